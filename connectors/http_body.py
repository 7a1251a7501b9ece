"""Reading one HTTP response body within bounds, and parsing it as JSON that cannot poison a batch.

Bounds (the source's settings): at most `max_download_size` bytes as sent and at most
`max_response_size` bytes once decompressed. gzip and deflate are inflated here, never more
than the cap plus one byte at a time, so a 400 KB bomb that would inflate to 400 MB costs
the cap and is refused; httpx's own decoders would inflate each network chunk whole.

JSON is parsed so that every value can be stored in quarantine as it came: `Infinity`,
`NaN` and numbers too large for a float stay text (PostgreSQL's JSON refuses them as
numbers), integers too long for Python's int() limit stay text, and nesting too deep for
the parser is a malformed page rather than a crash.
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import httpx

from connectors.errors import FatalError, RetriableError

ACCEPT_ENCODING = "gzip, deflate"  # what this module can inflate within bounds
_MAX_INT_DIGITS = 40  # longer integers stay text; the mapping refuses them with a reason


class _Inflater:
    """zlib output capped at `limit` bytes in total; gzip or deflate (wrapped or raw)."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding, self.limit, self.total = encoding, limit, 0
        self._raw_deflate_tried = encoding != "deflate"
        wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> bytes:
        try:
            return self._counted(self._inflate.decompress(data, self.limit - self.total + 1))
        except zlib.error:
            if self._raw_deflate_tried or self.total:
                raise
            # RFC 9110 §8.4.1.2 says zlib-wrapped, but some servers send raw deflate
            self._raw_deflate_tried = True
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data)

    def finish(self) -> bytes:
        tail = self._counted(self._inflate.flush())
        if not self._inflate.eof:
            raise zlib.error(f"the {self.encoding} stream ends early")
        return tail

    def _counted(self, out: bytes) -> bytes:
        self.total += len(out)
        if self.total > self.limit:
            raise _TooLargeError
        return out


class _TooLargeError(Exception):
    pass


def _decoders(response: httpx.Response, limit: int) -> list[_Inflater]:
    header = response.headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    decoders = []
    for coding in reversed(codings):  # RFC 9110 §8.4: listed in the order applied
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise FatalError(
                f"{response.url} answered in content-encoding {coding!r}, which the hub does not "
                f"accept (it asks for {ACCEPT_ENCODING})"
            )
        decoders.append(_Inflater(coding, limit))
    return decoders


async def read_capped(response: httpx.Response, *, max_download: int, max_size: int) -> bytes:
    """The decoded body; FatalError past a cap, RetriableError when it does not decode."""
    decoders = _decoders(response, max_size)
    parts: list[bytes] = []
    downloaded = size = 0
    try:
        async for chunk in response.aiter_raw():
            downloaded += len(chunk)
            if downloaded > max_download:
                raise _too_large(response, "max_download_size", max_download, "as sent")
            data = _through(decoders, chunk)
            size += len(data)
            if size > max_size:
                raise _TooLargeError
            parts.append(data)
        tail = b""
        for decoder in decoders:  # each one's last output flows into the next
            tail = (decoder.feed(tail) if tail else b"") + decoder.finish()
        size += len(tail)
        if size > max_size:
            raise _TooLargeError
        parts.append(tail)
    except _TooLargeError:
        raise _too_large(response, "max_response_size", max_size, "decompressed") from None
    except zlib.error as error:
        raise RetriableError(f"the body from {response.url} does not decode ({error})") from None
    return b"".join(parts)


def _through(decoders: list[_Inflater], data: bytes) -> bytes:
    for decoder in decoders:
        data = decoder.feed(data)
    return data


def _too_large(response: httpx.Response, setting: str, limit: int, how: str) -> FatalError:
    return FatalError(
        f"the page from {response.url} is larger than {limit:,} bytes {how} ({setting}); "
        "lower the stream's page size or raise the limit"
    )


def parse_json(data: bytes, response: httpx.Response) -> Any:
    """The page as JSON values that quarantine can store; RetriableError when it is not JSON."""
    try:
        text = data.decode(response.charset_encoding or "utf-8-sig")
        return json.loads(
            text, parse_constant=str, parse_float=_float_or_text, parse_int=_int_or_text
        )
    except (ValueError, LookupError, RecursionError):
        raise RetriableError(f"malformed JSON from {response.url}") from None


def _float_or_text(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


def _int_or_text(text: str) -> int | str:
    return int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else text
