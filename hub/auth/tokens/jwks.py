"""Trusted issuers' key sets: fetched over HTTP, cached as the provider says, never a refusal
of a valid token because of how the hub fetches.

- One fetch at a time per issuer: callers arriving while it runs wait for it (at start-up and
  after a key change, twenty concurrent first uses all see the new keys).
- The cache lives as long as the provider's `Cache-Control: max-age` (or `Expires`) says,
  within the issuer's `jwks_cache_min_seconds` and `jwks_cache_max_seconds` (default 60 s and
  10 min), so a key removed at the provider stops being accepted within the upper bound.
- An unknown `kid`, or a signature that fails with a cached key (a key replaced under the same
  `kid`), refetches at once, but at most every `jwks_refetch_seconds` (default 30 s): forged
  tokens cannot make the hub hammer the provider.
- When a fetch fails the keys already held stay in use (retried after the refetch interval);
  with none held, tokens are refused as signed with an unknown key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from hub.auth.issuers import TrustedIssuer

log = logging.getLogger(__name__)


class RemoteKeySet:
    """A trusted issuer's JWKS, fetched over HTTP and cached (see the module docstring)."""

    REFRESH_SECONDS = 30.0  # default jwks_refetch_seconds
    MAX_DOCUMENT_BYTES = 512 * 1024

    def __init__(
        self,
        trusted: TrustedIssuer,
        *,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trusted = trusted
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._expires_at = float("-inf")  # monotonic: the cache is stale from then on
        self._attempted_at = float("-inf")  # monotonic: the last fetch's start
        self._fetch: asyncio.Task[None] | None = None
        self.fetches = 0

    @property
    def refetch_seconds(self) -> float:
        configured = self.trusted.jwks_refetch_seconds
        return self.REFRESH_SECONDS if configured is None else configured

    async def key(self, kid: str) -> Key | None:
        """The issuer's key with this kid, from a cache no older than the provider allows."""
        if self._clock() >= self._expires_at:
            await self._refreshed()
        key = self._keys.get(kid)
        if key is None and self._may_refetch():
            await self._refreshed()
            key = self._keys.get(kid)
        return key

    async def replaced(self, kid: str, used: Key) -> Key | None:
        """After a signature failed with `used`: the kid's key if the provider has since
        replaced it (a refetch, rate-limited), else None."""
        if self._may_refetch():
            await self._refreshed()
        key = self._keys.get(kid)
        if key is None or key.as_dict(private=False) == used.as_dict(private=False):
            return None
        return key

    def _may_refetch(self) -> bool:
        """A fetch under way may always be awaited; a new one waits out the interval."""
        running = self._fetch is not None and not self._fetch.done()
        return running or self._clock() - self._attempted_at >= self.refetch_seconds

    async def _refreshed(self) -> None:
        """Wait for the fetch under way, or start one; concurrent callers share it."""
        if self._fetch is None or self._fetch.done():
            self._attempted_at = self._clock()
            self._fetch = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._fetch)  # a caller giving up does not cancel the others' fetch

    async def _refresh(self) -> None:
        self.fetches += 1
        try:
            document, lifetime = await self._download()
            keys = import_public_keys(document)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("cannot fetch the JWKS of %s: %s", self.trusted.issuer, error)
            self._expires_at = self._clock() + self.refetch_seconds  # keep what we hold
            return
        self._keys = keys
        self._expires_at = self._clock() + lifetime

    async def _download(self) -> tuple[Any, float]:
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
            lifetime = cache_lifetime(response.headers, self.trusted)
        return json.loads(bytes(body)), lifetime


def cache_lifetime(headers: httpx.Headers, trusted: TrustedIssuer) -> float:
    """Seconds the provider lets us keep the key set (RFC 9111 §4.2.1), within the bounds."""
    low, high = trusted.jwks_cache_min_seconds, trusted.jwks_cache_max_seconds
    lifetime = _freshness(headers)
    if lifetime is None:
        return high
    age = _number(headers.get("age")) or 0.0
    return min(max(lifetime - age, low), high)


def _freshness(headers: httpx.Headers) -> float | None:
    directives = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        directives[name.lower()] = value.strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    if "max-age" in directives:
        return _number(directives["max-age"])
    expires, date = headers.get("expires"), headers.get("date")
    if expires is None:
        return None
    try:
        expiry = parsedate_to_datetime(expires)
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return 0.0  # RFC 9111 §5.3: an invalid Expires means already expired
    if now is None or expiry.tzinfo is None or now.tzinfo is None:
        return None
    return (expiry - now).total_seconds()


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
