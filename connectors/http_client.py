"""The HTTP side of `http` sources: authentication, timeouts, retries, rate limiting, JSON pages.

`JsonClient.get_json` either returns a decoded page or raises: RetriableError once its
attempts run out (timeouts, connection errors, 429, 5xx, malformed JSON), FatalError at
once for what retrying cannot fix (401/403 after a token refresh, other 4xx, a rejected
client). Secrets are read from the environment variables the TOML names, when the
source is built.
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
from connectors.retry import RateLimiter, backoff_delay, parse_retry_after
from connectors.secrets import secret


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
        self._headers = dict(config.headers)
        where = f"connectors.{name}"
        self._base_url = config.base_url or secret(
            env, config.base_url_env or "", where=f"{where}.base_url_env"
        )
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
        response = await self._send(url, params)
        if response.status_code == 401 and refresh_on_401 and self._is_oauth:
            # The token may have expired in flight (clock skew); fetch a fresh one once.
            response = await self._send(url, params, fresh_token=True)
        _raise_for_status(response, source=self.name)
        try:
            return response.json(), response
        except ValueError:
            raise RetriableError(f"malformed JSON from {response.url}") from None

    @property
    def _is_oauth(self) -> bool:
        return isinstance(self.config.auth, OAuth2ClientCredentials)

    async def _send(
        self, url: str, params: Mapping[str, Any], *, fresh_token: bool = False
    ) -> httpx.Response:
        assert self._client is not None, "JsonClient used before open()"
        await self._rate.wait()
        try:
            if self._is_oauth and (fresh_token or not getattr(self._client, "token", None)):
                await self._fetch_token()
            # params=None, not {}: httpx would replace the query of a next link with an empty one
            return await self._client.get(url, params=dict(params) or None)
        except httpx.TimeoutException as error:
            raise RetriableError(f"timed out: {type(error).__name__} on {url}") from None
        except httpx.TransportError as error:
            raise RetriableError(f"connection failed: {error!r} on {url}") from None
        except httpx.HTTPStatusError as error:  # the token endpoint failed (authlib raises these)
            _raise_for_status(error.response, source=self.name)
            raise
        except OAuthError as error:
            raise FatalError(
                f"connector {self.name}: token request refused ({error.error}); check client_id "
                "and the client secret's environment variable"
            ) from None

    async def _fetch_token(self) -> None:
        client: Any = self._client  # an authlib AsyncOAuth2Client (untyped)
        await client.fetch_token()


def _raise_for_status(response: httpx.Response, *, source: str) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RetriableError(f"HTTP {status} from {response.url}", retry_after=retry_after)
    if status in (401, 403):
        raise FatalError(
            f"connector {source}: HTTP {status} from {response.url}; check its credentials"
        )
    if status >= 400:
        raise FatalError(
            f"connector {source}: HTTP {status} from {response.url}; check the stream's path and params"
        )
