"""`http` sources: JSON APIs with page, offset, cursor or Link-header pagination, read incrementally.

Cursor (stream state), chosen so a resume is exact even when many records share a timestamp:

    {"watermark": ISO time | null, "seen": [ids updated exactly at the watermark],
     "pending": {"since": ISO | null, "token": page token, "high": ISO | null, "high_ids": [...]}}

A run asks for `updated_since=<watermark>` (the API must compare inclusively, `>=`) and
drops records it has already seen at the watermark, so neither a record that shares the
watermark's timestamp nor one written later at that same timestamp is lost or re-read.
While a run pages through, `pending` records the query and the next page, so a crash
resumes at that page; when the last page is written, `high`/`high_ids` (the newest
timestamp seen and its ids) become the new watermark. One page is one batch.

Numbered pages (page and offset styles) shift when a record is edited mid-run: it moves to
the end and the record at the next page's start slides onto the page already read. A
stream whose API lists records in ascending update time (`ordered_by_updated_at`) avoids
that: each next page is asked for from the first page with `updated_since=<newest seen>`
(skipping the ids seen at that time), a keyset walk through the API's own filter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import httpx

from connectors.base import Batch, Cursor, RawRecord, Source, Stream
from connectors.config import (
    CursorPagination,
    HttpSourceConfig,
    LinkPagination,
    OffsetPagination,
    PagePagination,
)
from connectors.config import (
    HttpStream as HttpStreamConfig,
)
from connectors.errors import RetriableError
from connectors.http_client import JsonClient
from connectors.mapping import extract

Token = int | str | None  # page number, offset, opaque cursor or next URL; None: first page


def page_params(
    pagination: PagePagination | OffsetPagination | CursorPagination | LinkPagination, token: Token
) -> dict[str, Any]:
    """Query parameters that fetch the page `token` names."""
    match pagination:
        case PagePagination():
            page = pagination.first_page if token is None else int(token)
            return {pagination.page_param: page, pagination.size_param: pagination.page_size}
        case OffsetPagination():
            return {pagination.offset_param: token or 0, pagination.limit_param: pagination.limit}
        case CursorPagination() | LinkPagination():
            params: dict[str, Any] = {}
            if pagination.size_param:
                params[pagination.size_param] = pagination.page_size
            if isinstance(pagination, CursorPagination) and token:
                params[pagination.cursor_param] = token
            return params


def next_token(
    pagination: PagePagination | OffsetPagination | CursorPagination | LinkPagination,
    token: Token,
    body: Any,
    response: httpx.Response,
    count: int,
) -> Token | None:
    """The token of the following page, or None after the last one."""
    match pagination:
        case PagePagination():
            page = pagination.first_page if token is None else int(token)
            return page + 1 if count >= pagination.page_size else None
        case OffsetPagination():
            return int(token or 0) + pagination.limit if count >= pagination.limit else None
        case CursorPagination():
            following = (
                extract(body, pagination.next_cursor_path) if isinstance(body, Mapping) else None
            )
            return str(following) if following not in (None, "") else None
        case LinkPagination():
            link = response.links.get("next", {}).get("url")  # RFC 8288
            return str(response.url.join(link)) if link else None


class Watermark:
    """The incremental position of an http stream; see the module docstring for its JSON form."""

    def __init__(self, cursor: Cursor | None) -> None:
        cursor = cursor or {}
        self.watermark: str | None = cursor.get("watermark")
        self.seen: set[str] = set(cursor.get("seen", []))
        pending = cursor.get("pending") or {
            "since": self.watermark, "token": None, "high": self.watermark, "high_ids": sorted(self.seen),
        }  # fmt: skip
        self.since: str | None = pending["since"]
        self.token: Token = pending["token"]
        self.high: str | None = pending["high"]
        self.high_ids: set[str] = set(pending["high_ids"])

    def already_seen(self, key: str | None, updated: datetime | None) -> bool:
        at_watermark = (
            updated is not None and self.since is not None and updated == _time(self.since)
        )
        return at_watermark and key in self.seen

    def note(self, key: str | None, updated: datetime | None) -> None:
        """Track the newest timestamp of this run and the ids that carry it."""
        if key is None or updated is None:
            return
        high = _time(self.high) if self.high else None
        if high is None or updated > high:
            self.high, self.high_ids = updated.isoformat(), {key}
        elif updated == high:
            self.high_ids.add(key)

    def rewind(self) -> None:
        """Ask again from the newest time seen, first page, once it has moved past `since`."""
        if self.high is None or (self.since is not None and _time(self.high) <= _time(self.since)):
            return  # a whole page at `since`: keep paging through it
        self.since, self.seen, self.token = self.high, set(self.high_ids), None

    def in_progress(self) -> Cursor:
        pending = {
            "since": self.since,
            "token": self.token,
            "high": self.high,
            "high_ids": sorted(self.high_ids),
        }
        return {"watermark": self.watermark, "seen": sorted(self.seen), "pending": pending}

    def finished(self) -> Cursor:
        return {"watermark": self.high, "seen": sorted(self.high_ids), "pending": None}


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) for r in value)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class HttpStream(Stream[HttpStreamConfig]):
    """One endpoint of a JSON API."""

    client: JsonClient

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        state = Watermark(cursor)
        while True:
            url, params = self._request(state)
            body, response = await self.client.get_json(url, params, check=self._check_page)
            records = self._records(body) or []
            fresh = [r for r in records if not self._seen(state, r)]
            for record in fresh:
                state.note(self.mapping.record_key(record), self.mapping.updated_at(record))
            following = next_token(
                self.config.pagination, state.token, body, response, len(records)
            )
            if following is None:
                yield Batch(fresh, state.finished())
                return
            state.token = following
            if self._keyset_by_time:
                state.rewind()
            yield Batch(fresh, state.in_progress())

    @property
    def _keyset_by_time(self) -> bool:
        numbered = isinstance(self.config.pagination, PagePagination | OffsetPagination)
        return numbered and self.config.ordered_by_updated_at

    def _request(self, state: Watermark) -> tuple[str, dict[str, Any]]:
        if isinstance(self.config.pagination, LinkPagination) and state.token:
            return str(state.token), {}  # the next link carries every parameter
        params: dict[str, Any] = dict(self.config.params)
        if self.config.updated_since_param and state.since:
            params[self.config.updated_since_param] = state.since
        return self.config.path, params | page_params(self.config.pagination, state.token)

    def _records(self, body: Any) -> list[RawRecord] | None:
        path = self.config.records_path
        if not path:
            return body if _is_record_list(body) else None
        records = extract(body, path) if isinstance(body, Mapping) else None
        return records if _is_record_list(records) else None

    def _check_page(self, body: Any, response: httpx.Response) -> None:
        if self._records(body) is None:
            # A page of the wrong shape is treated like a 5xx: retried, then the run fails.
            path = self.config.records_path
            raise RetriableError(f"page from {response.url} has no list of objects at {path!r}")

    def _seen(self, state: Watermark, record: RawRecord) -> bool:
        return state.already_seen(self.mapping.record_key(record), self.mapping.updated_at(record))


class HttpSource(Source):
    """A JSON API; one client (and OAuth token) shared by its streams."""

    config: HttpSourceConfig

    def __init__(
        self,
        name: str,
        config: HttpSourceConfig,
        *,
        code_tables: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str],
    ) -> None:
        super().__init__(name, config)
        self.client = JsonClient(name, config, env=env)
        for stream_name, stream_config in config.streams.items():
            stream = HttpStream(stream_name, stream_config, source=config, code_tables=code_tables)
            stream.client = self.client
            self.streams[stream_name] = stream

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()
