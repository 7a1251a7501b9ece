"""Trusted external issuers' key sets: fetched over HTTP, cached, public signing keys only."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from hub.config import TrustedIssuer

log = logging.getLogger(__name__)


class RemoteKeySet:
    """A trusted issuer's JWKS, fetched over HTTP and cached.

    Refetched when asked for an unknown kid (at most every `REFRESH_SECONDS`) and when older
    than `MAX_AGE_SECONDS`; when a refetch fails the cached keys stay in use.
    """

    REFRESH_SECONDS = 30.0
    MAX_AGE_SECONDS = 3600.0
    MAX_DOCUMENT_BYTES = 512 * 1024

    def __init__(self, trusted: TrustedIssuer, *, timeout_seconds: float = 5.0) -> None:
        self.trusted = trusted
        self._timeout = timeout_seconds
        self._keys: dict[str, Key] = {}
        self._fetched_at = float("-inf")  # monotonic time of the last successful fetch
        self._attempted_at = float("-inf")  # monotonic time of the last attempt

    async def key(self, kid: str) -> Key | None:
        now = time.monotonic()
        # Setting `_attempted_at` before the first await makes concurrent callers skip the fetch.
        due = now - self._attempted_at >= self.REFRESH_SECONDS
        if due and (kid not in self._keys or now - self._fetched_at >= self.MAX_AGE_SECONDS):
            await self._refresh(now)
        return self._keys.get(kid)

    async def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            document = await self._fetch()
            keys = import_public_keys(document)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("cannot fetch JWKS of %s: %s", self.trusted.issuer, error)
            return
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _fetch(self) -> Any:
        async with (
            httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client,
            client.stream(
                "GET", self.trusted.jwks_uri, headers={"Accept": "application/json"}
            ) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.MAX_DOCUMENT_BYTES:
                    raise ValueError("JWKS document too large")
        return json.loads(bytes(body))


_KEY_CLASSES: dict[str, type[RSAKey] | type[ECKey]] = {"RSA": RSAKey, "EC": ECKey}


def import_public_keys(document: Any) -> dict[str, Key]:
    """Public RSA and EC signing keys with a kid; anything else in the set is ignored."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        key_class = _KEY_CLASSES.get(str(entry.get("kty")))
        if not isinstance(kid, str) or key_class is None:
            continue
        try:
            imported = key_class.import_key(entry)
            public = key_class.import_key(imported.as_dict(private=False))
        except (JoseError, ValueError, TypeError):
            continue
        keys[kid] = public
    return keys
