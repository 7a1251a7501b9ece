"""The HTTP side of `http` sources: authentication, deadlines, retries, rate limiting, JSON pages.

`JsonClient.get_json` either returns a decoded page or raises: RetriableError once its
attempts run out (deadlines, connection errors, 408, 429, 5xx, bodies that do not decode,
malformed JSON), FatalError at once for what retrying cannot fix (401/403 after a token
refresh, other 4xx, any 3xx, a rejected client, a page over the size caps, a URL on
another host). Secrets are read from the environment variables the TOML names, when the
source is built.

Requests go to base_url's origin (scheme, host, port) only: a next link or any other URL
elsewhere is refused before a byte is sent, so the API key or token never leaves it, and
redirects are never followed. Each request, token fetch included, has one total deadline
(`timeout_seconds`), so a server trickling a byte a second cannot hold a run.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError

from connectors.config import ApiKeyAuth, BearerAuth, HttpSourceConfig, OAuth2ClientCredentials
from connectors.errors import FatalError, RetriableError
from connectors.http_body import ACCEPT_ENCODING, parse_json, read_capped
from connectors.retry import RateLimiter, backoff_delay, parse_retry_after
from connectors.secrets import secret

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: httpx.URL) -> str:
    """`scheme://host:port`, the port always written: what connection errors and refusals name."""
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}"


def _oauth_client_class() -> Any:
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        # authlib 1.9 warns on import that it prefers the `httpx2` fork; GridHub ships plain
        # httpx, which authlib still supports. pytest turns warnings into errors, so silence
        # exactly this one.
        warnings.filterwarnings(
            "ignore", message="The httpx module is deprecated", category=AuthlibDeprecationWarning
        )
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    return AsyncOAuth2Client


class JsonClient:
    """GETs JSON pages from one source with its auth, retry and rate policy."""

    def __init__(self, name: str, config: HttpSourceConfig, *, env: Mapping[str, str]) -> None:
        self.name = name
        self.config = config
        self._headers = dict(config.headers) | {"Accept-Encoding": ACCEPT_ENCODING}
        where = f"connectors.{name}"
        self._base_url = config.base_url or secret(
            env, config.base_url_env or "", where=f"{where}.base_url_env"
        )
        self._base = httpx.URL(self._base_url)
        if self._base.scheme not in _DEFAULT_PORTS or not self._base.host:
            raise FatalError(f"{where}: base_url {self._base_url!r} is not an http(s) URL")
        self._oauth_secret: str | None = None
        self._token_url: str | None = None
        self._client_id: str | None = None
        self._authenticate(config.auth, env)
        self._rate = RateLimiter(config.requests_per_second)
        self._client: httpx.AsyncClient | None = None

    def _authenticate(
        self, auth: BearerAuth | ApiKeyAuth | OAuth2ClientCredentials | None, env: Mapping[str, str]
    ) -> None:
        where = f"connectors.{self.name}.auth"
        if isinstance(auth, BearerAuth):
            token = secret(env, auth.token_env, where=f"{where}.token_env")
            self._headers["Authorization"] = f"Bearer {token}"
        elif isinstance(auth, ApiKeyAuth):
            self._headers[auth.header] = secret(env, auth.key_env, where=f"{where}.key_env")
        elif isinstance(auth, OAuth2ClientCredentials):
            self._oauth_secret = secret(
                env, auth.client_secret_env, where=f"{where}.client_secret_env"
            )
            self._token_url = auth.token_url or secret(
                env, auth.token_url_env or "", where=f"{where}.token_url_env"
            )
            self._client_id = auth.client_id or secret(
                env, auth.client_id_env or "", where=f"{where}.client_id_env"
            )

    async def open(self) -> None:
        timeout = httpx.Timeout(self.config.timeout_seconds)
        common: dict[str, Any] = {
            "base_url": self._base_url, "headers": self._headers, "timeout": timeout,
            "follow_redirects": False,
        }  # fmt: skip
        auth = self.config.auth
        if isinstance(auth, OAuth2ClientCredentials):
            self._client = _oauth_client_class()(
                client_id=self._client_id,
                client_secret=self._oauth_secret,
                scope=auth.scope,
                token_endpoint=self._token_url,
                grant_type="client_credentials",
                leeway=auth.leeway_seconds,
                **common,
            )
        else:
            self._client = httpx.AsyncClient(**common)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get_json(
        self,
        url: str,
        params: Mapping[str, Any],
        *,
        check: Callable[[Any, httpx.Response], None] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """One page, retried per the source's policy; the last error says why it gave up.

        `check` may reject a decoded page with RetriableError (a page of the wrong shape
        is retried like a 5xx).
        """
        attempts = self.config.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                body, response = await self._attempt(url, params, refresh_on_401=attempt == 1)
                if check is not None:
                    check(body, response)
                return body, response
            except RetriableError as error:
                if attempt == attempts:
                    raise RetriableError(f"gave up after {attempts} attempts: {error}") from None
                await asyncio.sleep(self._delay(attempt, error.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.retry_after_max_seconds)
        cfg = self.config
        return backoff_delay(attempt, base=cfg.backoff_seconds, cap=cfg.backoff_max_seconds)

    async def _attempt(
        self, url: str, params: Mapping[str, Any], *, refresh_on_401: bool
    ) -> tuple[Any, httpx.Response]:
        response, data = await self._send(url, params)
        if response.status_code == 401 and refresh_on_401 and self._is_oauth:
            # The token may have expired in flight (clock skew); fetch a fresh one once.
            response, data = await self._send(url, params, fresh_token=True)
        _raise_for_status(response, source=self.name)
        return parse_json(data, response), response

    @property
    def _is_oauth(self) -> bool:
        return isinstance(self.config.auth, OAuth2ClientCredentials)

    def _on_base_origin(self, url: str) -> httpx.URL:
        """The URL to request; FatalError for one on another origin (credentials stay home)."""
        target = httpx.URL(url)
        if target.host and origin(target) != origin(self._base):
            raise FatalError(
                f"connector {self.name}: refused {url} on {origin(target)}: requests and their "
                f"credentials go only to {origin(self._base)} (base_url); the API's next link "
                "points elsewhere, so ask its owners, or set base_url if it moved"
            )
        return target  # a relative one is joined with base_url by httpx, path prefix kept

    async def _send(
        self, url: str, params: Mapping[str, Any], *, fresh_token: bool = False
    ) -> tuple[httpx.Response, bytes]:
        assert self._client is not None, "JsonClient used before open()"
        target = self._on_base_origin(url)
        where = origin(target) if target.host else origin(self._base)
        path = target.path if target.host else f"{self._base.path.rstrip('/')}/{url.lstrip('/')}"
        await self._rate.wait()
        deadline = self.config.timeout_seconds
        try:
            async with asyncio.timeout(deadline):
                if self._is_oauth and (fresh_token or not getattr(self._client, "token", None)):
                    await self._fetch_token()
                return await self._get(target, params)
        except (TimeoutError, httpx.TimeoutException):
            raise RetriableError(
                f"no complete answer from {where} within {deadline:g} s "
                f"(timeout_seconds) for {path}"
            ) from None
        except httpx.TransportError as error:
            raise RetriableError(
                f"cannot reach {where} ({type(error).__name__}: {error or 'no detail'}) for {path}"
            ) from None
        except httpx.HTTPStatusError as error:  # the token endpoint failed (authlib raises these)
            _raise_for_status(error.response, source=self.name)
            raise
        except OAuthError as error:
            raise FatalError(
                f"connector {self.name}: token request refused ({error.error}); check client_id "
                "and the client secret's environment variable"
            ) from None

    async def _get(
        self, target: httpx.URL, params: Mapping[str, Any]
    ) -> tuple[httpx.Response, bytes]:
        assert self._client is not None
        # params=None, not {}: httpx would replace the query of a next link with an empty one
        async with self._client.stream("GET", target, params=dict(params) or None) as response:
            if not response.is_success:
                return response, b""  # the status says it all; the body is never read
            cfg = self.config
            body = await read_capped(
                response, max_download=cfg.max_download_size, max_size=cfg.max_response_size
            )
            return response, body

    async def _fetch_token(self) -> None:
        client: Any = self._client  # an authlib AsyncOAuth2Client (untyped)
        await client.fetch_token()


def _raise_for_status(response: httpx.Response, *, source: str) -> None:
    status = response.status_code
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RetriableError(f"HTTP {status} from {response.url}", retry_after=retry_after)
    if 300 <= status < 400:
        where = response.headers.get("Location", "nowhere")
        raise FatalError(
            f"connector {source}: HTTP {status} from {response.url} redirecting to {where}; "
            "the hub follows no redirects (credentials stay on base_url's host): point "
            "base_url or the stream's path at the final address"
        )
    if status in (401, 403):
        raise FatalError(
            f"connector {source}: HTTP {status} from {response.url}; check its credentials"
        )
    if status >= 400:
        raise FatalError(
            f"connector {source}: HTTP {status} from {response.url}; check the stream's path and params"
        )
