"""The OAuth 2.0 authorization server: token, revocation, JWKS and metadata endpoints.

Protocol work is done by authlib's framework-agnostic `AuthorizationServer` (client
credentials grant, RFC 6749 §4.4; client_secret_basic, client_secret_post and private_key_jwt
client authentication, RFC 6749 §2.3.1 and RFC 7523 §2.2; revocation, RFC 7009). This module
adapts Starlette to it:

- the form body is read in async code (size-capped, urlencoded only, no repeated parameters,
  RFC 6749 §3.2) and wrapped in an `OAuth2Request` whose URI is the endpoint's public URL
  under `settings.issuer` (authlib refuses non-TLS URIs other than loopback: RFC 6749 §3.2);
- authlib's synchronous code then runs in a worker thread (argon2 verification is CPU and
  memory heavy; a capacity limiter bounds how many run at once), and reaches the database
  by handing coroutines back to the event loop with `anyio.from_thread.run`;
- its `(status, body, headers)` result becomes a Starlette response.

Failed client authentications are counted per (claimed client id, remote address); past
`max_failures` within the window the endpoint answers 429 with Retry-After until it passes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import anyio
import anyio.from_thread
import anyio.to_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub.auth.clients import ClientAuthMethod, effective_scopes, verify_secret
from hub.auth.tokens import LOCAL_ALGORITHMS, AccessClaims, TokenError, revoke
from hub.storage.base import utcnow
from hub.storage.models import OAuthClient, UsedClientAssertion
from hub.storage.upsert import insert_or_ignore

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from hub.auth.runtime import AuthRuntime

T = TypeVar("T")

TOKEN_PATH = "/oauth/token"
REVOCATION_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

AUTH_METHODS = [method.value for method in ClientAuthMethod]
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 16
MAX_ASSERTION_LIFETIME = timedelta(hours=1)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


# --- throttling ------------------------------------------------------------------------------


class FailureThrottle:
    """Counts failed client authentications per key; in memory, per process."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until the next attempt is allowed; 0 when it is allowed now."""
        failures = self._recent(key)
        if len(failures) < self.max_failures:
            return 0
        oldest = failures[-self.max_failures]
        return max(1, math.ceil(oldest + self.window_seconds - self._clock()))

    def failed(self, key: tuple[str, str]) -> None:
        self._failures[key] = [*self._recent(key), self._clock()]
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_entries:
            self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        horizon = self._clock() - self.window_seconds
        return [moment for moment in self._failures.get(key, ()) if moment > horizon]


# --- authlib adapters ------------------------------------------------------------------------


class _FormPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: dict[str, str]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return self._form

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, {key: [value] for key, value in self._form.items()})


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """A form POST, read in async code, as authlib's `OAuth2Request`."""

    def __init__(self, *, uri: str, headers: Headers, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = _FormPayload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        return {}  # credentials never come in the query string (RFC 6749 §2.3.1)

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Client(ClientMixin):  # type: ignore[misc]
    """A snapshot of one registered client, detached from the database session.

    An unknown or revoked client id yields a decoy that fails every check after paying the
    same argon2 cost, so neither timing nor error text reveals which ids exist.
    """

    def __init__(
        self,
        *,
        client_id: str,
        role: str = "",
        grid: str | None = None,
        scopes: frozenset[str] = frozenset(),
        auth_method: str | None = None,
        secret_hash: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        hasher: PasswordHasher,
    ) -> None:
        self.client_id = client_id
        self.role = role
        self.grid = grid
        self.scopes = scopes
        self.auth_method = auth_method
        self.secret_hash = secret_hash
        self.jwks = jwks
        self._hasher = hasher

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope_to_list(scope) or [] if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(self._hasher, self.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.auth_method is not None and method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """RFC 6749 §3.3: the scope parameter may narrow the client's scopes, never widen them."""
        client: _Client = self.request.client
        if not client.scopes:
            raise InvalidScopeError("the client's role grants no scope under the current policy")
        requested = set(scope_to_list(self.request.payload.scope) or [])
        beyond = requested - client.scopes
        if beyond:
            raise InvalidScopeError(f"scope not granted to this client: {' '.join(sorted(beyond))}")


class _PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """private_key_jwt (RFC 7523 §2.2, §3) with pinned algorithms and replay protection."""

    CLIENT_AUTH_METHOD = ClientAuthMethod.private_key_jwt.value

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(validate_jti=True, leeway=server.runtime.settings.token_leeway_seconds)
        self._server = server

    def get_audiences(self) -> list[str]:
        """RFC 7523 §3 item 3: the token endpoint URL, or the issuer identifier itself."""
        issuer = self._server.runtime.settings.issuer
        return [issuer + TOKEN_PATH, issuer]

    def resolve_client_public_key(self, client: _Client) -> KeySet:
        if not client.jwks:  # an unknown client reads exactly like a bad signature
            raise InvalidClientError(description="invalid client assertion")
        return KeySet.import_key_set(client.jwks)  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: KeySet) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=sorted(LOCAL_ALGORITHMS))
        except (JoseError, ValueError):
            raise InvalidClientError(description="invalid client assertion") from None
        claims: dict[str, Any] = token.claims
        # Checked before verify_claims records the jti: a far-off exp would pin it for long.
        latest = time.time() + MAX_ASSERTION_LIFETIME.total_seconds() + self.leeway
        expires = claims.get("exp")
        if isinstance(expires, int | float) and expires > latest:
            raise InvalidClientError(description="client assertion lives too long")
        self.verify_claims(claims)
        return claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        """RFC 7523 §3 item 7: each assertion is used once; its jti is kept until exp."""
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            return False
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        return self._server.run_async(self._server.remember_assertion, claims["sub"], jti, expires)


@dataclass(frozen=True)
class _IssuedToken:
    claims: AccessClaims

    def check_client(self, client: _Client) -> bool:
        return self.claims.client_id == client.get_client_id()


class _RevocationEndpoint(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a client revokes its own access tokens; unknown tokens still answer 200."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")

    def check_params(self, request: StarletteOAuth2Request, client: _Client) -> None:
        """`token` is required; the hint is ignored, as RFC 7009 §2.1 allows: the hub issues
        access tokens only, so every token is looked up as one."""
        if not request.form.get("token"):
            raise InvalidRequestError("missing 'token' parameter")

    def query_token(self, token_string: str, token_type_hint: str | None) -> _IssuedToken | None:
        server: HubAuthorizationServer = self.server
        claims = server.run_async(server.own_token_claims, token_string)
        return _IssuedToken(claims) if claims is not None else None

    def revoke_token(self, token: _IssuedToken, request: StarletteOAuth2Request) -> None:
        server: HubAuthorizationServer = self.server
        server.run_async(server.revoke_jti, token.claims.jti, token.claims.expires_at)


@dataclass(frozen=True)
class _Outcome:
    """authlib's `(status, body, headers)`, kept as data until it becomes a response."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None

    def response(self) -> Response:
        headers = {name: value for name, value in self.headers if name.lower() != "content-type"}
        return JSONResponse(self.body, self.status, headers={**headers, **NO_STORE})


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's server bound to GridHub's clients, policy, keys and database."""

    def __init__(self, runtime: AuthRuntime) -> None:
        super().__init__(scopes_supported=scopes_supported(runtime))
        self.runtime = runtime
        self.register_token_generator("default", self.generate_bearer_token)
        self.register_grant(_ClientCredentialsGrant)
        self.register_client_auth_method(
            ClientAuthMethod.private_key_jwt.value, _PrivateKeyJWT(self)
        )
        self.register_endpoint(_RevocationEndpoint)

    # authlib's hooks (called in the worker thread)

    def query_client(self, client_id: str) -> _Client:
        return self.run_async(self.load_client, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to store: JWT access tokens are self-contained (RFC 9068)."""

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> _Outcome:
        return _Outcome(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals have no listeners here."""

    def generate_bearer_token(
        self,
        grant_type: str,
        client: _Client,
        user: object = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """RFC 6749 §5.1 response; no refresh token for client credentials (§4.4.3)."""
        requested = set(scope_to_list(scope) or [])
        scopes = sorted(requested or client.scopes)
        token, ttl = self.runtime.issuer.issue(
            client_id=client.client_id,
            subject=client.client_id,
            scopes=scopes,
            roles=[client.role],
            grid=client.grid,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }

    # bridges to the event loop

    @staticmethod
    def run_async(function: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return anyio.from_thread.run(function, *args)

    async def load_client(self, client_id: str) -> _Client:
        hasher = self.runtime.password_hasher
        record = None
        if isinstance(client_id, str) and 0 < len(client_id) <= 64:
            async with self.runtime.sessionmaker() as session:
                record = await session.get(OAuthClient, client_id)
        if record is None or record.revoked_at is not None:
            return _Client(client_id=str(client_id), hasher=hasher)
        return _Client(
            client_id=record.client_id,
            role=record.role,
            grid=record.grid_code,
            scopes=effective_scopes(record, self.runtime.policy),
            auth_method=record.token_endpoint_auth_method,
            secret_hash=record.secret_hash,
            jwks=record.jwks,
            hasher=hasher,
        )

    async def remember_assertion(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        async with self.runtime.engine.begin() as connection:
            table = UsedClientAssertion
            await connection.execute(delete(table).where(table.expires_at < utcnow()))
            values = {"client_id": client_id, "jti": jti, "expires_at": expires_at}
            return await insert_or_ignore(connection, table, values)

    async def own_token_claims(self, token: str) -> AccessClaims | None:
        try:
            claims = await self.runtime.verifier.verify(token)
        except TokenError:
            return None
        return claims if claims.issuer == self.runtime.settings.issuer else None

    async def revoke_jti(self, jti: str, expires_at: datetime) -> None:
        await revoke(self.runtime.engine, jti=jti, expires_at=expires_at)


# --- HTTP ------------------------------------------------------------------------------------


def scopes_supported(runtime: AuthRuntime) -> list[str]:
    return sorted(frozenset().union(*(role.scopes for role in runtime.policy.roles.values())))


def _error(status: int, error: str, description: str, **headers: str) -> Response:
    body = {"error": error, "error_description": description}  # RFC 6749 §5.2
    return JSONResponse(body, status, headers={**headers, **NO_STORE})


class _BadRequest(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


async def _read_form(request: Request) -> dict[str, str]:
    """The urlencoded body (RFC 6749 §4.4.2), each parameter at most once (§3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise _BadRequest("send parameters as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _BadRequest("request body too large")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise _BadRequest("malformed request body") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _BadRequest(f"parameter {name!r} repeated")
        form[name] = value
    return form


def _claimed_client_id(headers: Headers, form: Mapping[str, str]) -> str:
    """Who the request says it is, before any check: the throttling key."""
    client_id, _ = extract_basic_authorization(headers)
    if client_id:
        return str(client_id)[:64]
    if form.get("client_id"):
        return form["client_id"][:64]
    return _assertion_subject(form.get("client_assertion", ""))[:64]


def _assertion_subject(assertion: str) -> str:
    try:
        payload = assertion.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return ""
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) else ""


class _Endpoints:
    """The four routes, sharing one authlib server, throttle and thread limiter."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.server = HubAuthorizationServer(runtime)
        self.limiter = anyio.CapacityLimiter(runtime.max_concurrent_client_authentications)

    async def token(self, request: Request) -> Response:
        return await self._authenticated(request, TOKEN_PATH, self.server.create_token_response)

    async def revoke(self, request: Request) -> Response:
        def create(oauth_request: StarletteOAuth2Request) -> _Outcome:
            outcome: _Outcome = self.server.create_endpoint_response("revocation", oauth_request)
            return outcome

        return await self._authenticated(request, REVOCATION_PATH, create)

    async def _authenticated(
        self,
        request: Request,
        path: str,
        handle: Callable[[StarletteOAuth2Request], _Outcome],
    ) -> Response:
        try:
            form = await _read_form(request)
        except _BadRequest as error:
            return _error(400, "invalid_request", error.description)
        throttle = self.runtime.throttle
        key = (_claimed_client_id(request.headers, form), _remote_address(request))
        wait = throttle.retry_after(key)
        if wait:
            description = "too many failed client authentications; retry later"
            return _error(429, "temporarily_unavailable", description, **{"Retry-After": str(wait)})
        try:
            oauth_request = StarletteOAuth2Request(
                uri=self.runtime.settings.issuer + path, headers=request.headers, form=form
            )
        except InsecureTransportError as error:
            return _error(400, error.error, "the issuer URL must use https (RFC 6749 §3.2)")
        outcome = await anyio.to_thread.run_sync(handle, oauth_request, limiter=self.limiter)
        if outcome.error == "invalid_client":
            throttle.failed(key)
        elif outcome.status == 200:
            throttle.succeeded(key)
        return outcome.response()

    async def jwks(self, _: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=60"}
        return JSONResponse(self.runtime.keystore.jwks(), headers=headers)

    async def metadata(self, _: Request) -> Response:
        """RFC 8414 §2 authorization server metadata."""
        issuer = self.runtime.settings.issuer
        algorithms = sorted(LOCAL_ALGORITHMS)
        document = {
            "issuer": issuer,
            "token_endpoint": issuer + TOKEN_PATH,
            "jwks_uri": issuer + JWKS_PATH,
            "revocation_endpoint": issuer + REVOCATION_PATH,
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": [],  # no authorization endpoint
            "scopes_supported": scopes_supported(self.runtime),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": algorithms,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": algorithms,
        }
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


def _remote_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def oauth_routes(runtime: AuthRuntime) -> list[BaseRoute]:
    """Starlette routes of the authorization server; mount them at the application root."""
    endpoints = _Endpoints(runtime)
    return [
        Route(TOKEN_PATH, endpoints.token, methods=["POST"]),
        Route(REVOCATION_PATH, endpoints.revoke, methods=["POST"]),
        Route(JWKS_PATH, endpoints.jwks, methods=["GET"]),
        Route(METADATA_PATH, endpoints.metadata, methods=["GET"]),
    ]
