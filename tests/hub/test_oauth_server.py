"""The authorization server over HTTP: token and revocation endpoints, metadata, JWKS."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from argon2 import PasswordHasher
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from hub.auth import clients
from hub.auth.clients import ClientAuthMethod
from hub.auth.oauth.routes import oauth_routes
from hub.auth.oauth.throttle import FailureThrottle
from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.auth.tokens import TokenError
from hub.config import Settings

if TYPE_CHECKING:
    from tests.conftest import World

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
POLICY = load_policy()
GRID = "410105001001"


@pytest.fixture
def runtime(settings: Settings, engine: AsyncEngine) -> AuthRuntime:
    throttle = FailureThrottle(max_failures=3, window_seconds=60)
    return AuthRuntime.create(
        settings, engine, POLICY, password_hasher=FAST_HASHER, throttle=throttle
    )


@pytest.fixture
async def oauth(runtime: AuthRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=oauth_routes(runtime))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=runtime.settings.issuer) as http:
        yield http


@dataclass
class Registered:
    client_id: str
    secret: str | None
    key: ECKey | None = None


Register = Callable[..., Awaitable[Registered]]


@pytest.fixture
async def register(runtime: AuthRuntime, world: World) -> Register:
    await world.tree()

    async def register(
        role: str = "health_officer",
        *,
        auth_method: ClientAuthMethod = ClientAuthMethod.client_secret_basic,
        **options: Any,
    ) -> Registered:
        key = (
            ECKey.generate_key("P-256", private=True) if auth_method == "private_key_jwt" else None
        )
        if key is not None:
            options["jwks"] = {"keys": [key.as_dict(private=False)]}
        async with runtime.sessionmaker() as session, session.begin():
            client, secret = await clients.register_client(
                session,
                name=f"{role} client",
                role=role,
                auth_method=auth_method,
                policy=POLICY,
                hasher=FAST_HASHER,
                **options,
            )
        return Registered(client.client_id, secret, key)

    return register


def assertion(client: Registered, audience: str, **changes: Any) -> str:
    """A private_key_jwt client assertion (RFC 7523 §3)."""
    assert client.key is not None
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 60,
        "jti": f"assertion-{time.monotonic_ns()}",
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "ES256", "kid": client.key.thumbprint()}, claims, client.key)


def credentials(client: Registered, method: str, audience: str, **form: str) -> dict[str, Any]:
    """httpx keyword arguments that authenticate `client` with `method`."""
    if method == "client_secret_basic":
        assert client.secret is not None
        return {"data": form, "auth": (client.client_id, client.secret)}
    if method == "client_secret_post":
        return {"data": {**form, "client_id": client.client_id, "client_secret": client.secret}}
    return {
        "data": {
            **form,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(client, audience),
        }
    }


async def request_token(
    oauth: httpx.AsyncClient, client: Registered, method: str = "client_secret_basic", **form: str
) -> httpx.Response:
    audience = str(oauth.base_url.join("/oauth/token"))
    kwargs = credentials(client, method, audience, grant_type="client_credentials", **form)
    return await oauth.post("/oauth/token", **kwargs)


# --- token endpoint --------------------------------------------------------------------------


@pytest.mark.parametrize("method", [m.value for m in ClientAuthMethod])
async def test_token_endpoint_issues_a_token_for_each_auth_method(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime, method: str
) -> None:
    client = await register("grid_worker", grid_code=GRID, auth_method=ClientAuthMethod(method))

    response = await request_token(oauth, client, method)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == runtime.settings.token_ttl_seconds
    assert "refresh_token" not in body
    claims = await runtime.verifier.verify(body["access_token"])
    assert claims.client_id == claims.subject == client.client_id
    assert claims.roles == ("grid_worker",)
    assert claims.grid == GRID
    assert claims.scopes == POLICY.role("grid_worker").scopes
    assert set(body["scope"].split()) == claims.scopes


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        pytest.param(None, POLICY.role("health_officer").scopes, id="absent-means-all"),
        pytest.param("", POLICY.role("health_officer").scopes, id="empty-means-all"),
        pytest.param("resident:basic", {"resident:basic"}, id="one"),
        pytest.param("health:read  resident:basic", {"health:read", "resident:basic"}, id="two"),
    ],
)
async def test_scope_parameter_narrows_the_token(
    oauth: httpx.AsyncClient,
    register: Register,
    runtime: AuthRuntime,
    requested: str | None,
    granted: set[str],
) -> None:
    client = await register("health_officer")
    form = {} if requested is None else {"scope": requested}

    response = await request_token(oauth, client, **form)

    assert response.status_code == 200, response.text
    claims = await runtime.verifier.verify(response.json()["access_token"])
    assert claims.scopes == granted
    assert set(response.json()["scope"].split()) == granted


@pytest.mark.parametrize(
    ("options", "requested"),
    [
        pytest.param({}, "police:sensitive", id="other-roles-scope"),
        pytest.param({}, "resident:basic admin", id="one-beyond"),
        pytest.param({}, "everything", id="unknown-scope"),
        pytest.param({"scopes": ["resident:basic"]}, "health:read", id="beyond-registration"),
    ],
)
async def test_scope_parameter_never_widens_the_token(
    oauth: httpx.AsyncClient, register: Register, options: dict[str, Any], requested: str
) -> None:
    client = await register("health_officer", **options)

    response = await request_token(oauth, client, scope=requested)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    "requested",
    [
        pytest.param("resident:basic\u3000police:sensitive", id="ideographic-space"),
        pytest.param("resident:basic\u00a0police:sensitive", id="no-break-space"),
        pytest.param("resident:basic\u2003police:sensitive", id="em-space"),
        pytest.param("resident:basic\thealth:read", id="tab"),
        pytest.param("resident:basic\nhealth:read", id="newline"),
        pytest.param("resident:basic\x1fhealth:read", id="unit-separator"),
        pytest.param('resident:basic "health:read"', id="quote"),
    ],
)
async def test_scope_parameter_is_split_on_ascii_spaces_only(
    oauth: httpx.AsyncClient, register: Register, requested: str
) -> None:
    """RFC 6749 §3.3: scope-tokens are printable ASCII separated by SP; anything else is one
    malformed token, never a second scope."""
    client = await register("police_officer")

    response = await request_token(oauth, client, scope=requested)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_scope"
    assert "RFC 6749" in response.json()["error_description"]


async def test_registered_scopes_narrow_the_default(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("health_officer", scopes=["resident:basic", "health:read"])

    response = await request_token(oauth, client)

    claims = await runtime.verifier.verify(response.json()["access_token"])
    assert claims.scopes == {"resident:basic", "health:read"}


async def test_revoked_client_gets_invalid_client_and_its_tokens_stop_working(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor")
    token = (await request_token(oauth, client)).json()["access_token"]
    async with runtime.sessionmaker() as session, session.begin():
        await clients.revoke_client(session, client_id=client.client_id)

    response = await request_token(oauth, client)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


def _wrong_secret(client: Registered) -> dict[str, Any]:
    return {"auth": (client.client_id, "not-the-secret")}


def _unknown_client(client: Registered) -> dict[str, Any]:
    return {"auth": ("gh_nobody", "whatever")}


def _post_for_basic_client(client: Registered) -> dict[str, Any]:
    return {"data": {"client_id": client.client_id, "client_secret": client.secret}}


def _no_credentials(client: Registered) -> dict[str, Any]:
    return {}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_wrong_secret, id="wrong-secret"),
        pytest.param(_unknown_client, id="unknown-client"),
        pytest.param(_post_for_basic_client, id="method-not-registered"),
        pytest.param(_no_credentials, id="no-credentials"),
    ],
)
async def test_bad_client_authentication_gets_invalid_client(
    oauth: httpx.AsyncClient, register: Register, make: Callable[[Registered], dict[str, Any]]
) -> None:
    client = await register("auditor")
    kwargs = make(client)
    kwargs["data"] = {**kwargs.get("data", {}), "grant_type": "client_credentials"}

    response = await oauth.post("/oauth/token", **kwargs)

    assert response.status_code in (400, 401)
    body = response.json()
    assert body["error"] == "invalid_client"
    assert "does not exist" not in body.get("error_description", "")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"aud": "https://elsewhere.example/token"}, id="wrong-audience"),
        pytest.param({"exp": int(time.time()) - 120}, id="expired"),
        pytest.param({"exp": int(time.time()) + 7 * 86400}, id="lives-too-long"),
        pytest.param({"iss": "gh_someone_else"}, id="iss-not-sub"),
        pytest.param({"jti": None}, id="no-jti"),
    ],
)
async def test_bad_client_assertions_are_refused(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime, changes: dict[str, Any]
) -> None:
    client = await register("auditor", auth_method=ClientAuthMethod.private_key_jwt)
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client, runtime.settings.issuer + "/oauth/token", **changes),
    }

    response = await oauth.post("/oauth/token", data=data)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


async def test_client_assertion_signed_by_another_key_is_refused(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor", auth_method=ClientAuthMethod.private_key_jwt)
    impostor = Registered(client.client_id, None, ECKey.generate_key("P-256", private=True))

    response = await oauth.post(
        "/oauth/token",
        **credentials(
            impostor,
            "private_key_jwt",
            runtime.settings.issuer + "/oauth/token",
            grant_type="client_credentials",
        ),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


async def test_a_client_assertion_is_accepted_once(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor", auth_method=ClientAuthMethod.private_key_jwt)
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client, runtime.settings.issuer),  # issuer as audience
    }

    first = await oauth.post("/oauth/token", data=data)
    replay = await oauth.post("/oauth/token", data=data)

    assert first.status_code == 200, first.text
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_client"


async def test_failed_authentications_are_throttled_per_client_and_address(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor")
    other = await register("auditor")
    form = {"grant_type": "client_credentials"}
    wrong = (client.client_id, "wrong")

    statuses = [
        (await oauth.post("/oauth/token", data=form, auth=wrong)).status_code for _ in range(3)
    ]
    throttled = await request_token(oauth, client)  # even the right secret waits now

    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    assert throttled.json()["error"] == "temporarily_unavailable"
    assert throttled.headers["Cache-Control"] == "no-store"
    assert (await request_token(oauth, other)).status_code == 200

    elsewhere = httpx.ASGITransport(
        app=Starlette(routes=oauth_routes(runtime)), client=("198.51.100.7", 40000)
    )
    async with httpx.AsyncClient(transport=elsewhere, base_url=oauth.base_url) as http:
        assert (await request_token(http, client)).status_code == 200


def test_throttle_forgets_failures_after_the_window() -> None:
    now = [1000.0]
    throttle = FailureThrottle(max_failures=2, window_seconds=10, clock=lambda: now[0])
    key = ("gh_a", "192.0.2.1")

    throttle.failed(key)
    throttle.failed(key)
    assert throttle.retry_after(key) == 10
    now[0] += 4
    assert throttle.retry_after(key) == 6
    now[0] += 6.5
    assert throttle.retry_after(key) == 0
    throttle.failed(key)
    throttle.succeeded(key)
    assert throttle.retry_after(key) == 0


@pytest.mark.parametrize("outcome", ["success", "error"])
async def test_token_responses_are_never_cached(
    oauth: httpx.AsyncClient, register: Register, outcome: str
) -> None:
    client = await register("auditor")
    form = {"scope": "admin"} if outcome == "error" else {}

    response = await request_token(oauth, client, **form)

    assert response.status_code == (200 if outcome == "success" else 400)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"json": {"grant_type": "client_credentials"}}, "invalid_request", id="json-body"),
        pytest.param(
            {"content": "grant_type=client_credentials&scope=a&scope=b",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            "invalid_request",
            id="repeated-parameter",
        ),
        pytest.param(
            {"data": {"grant_type": "client_credentials", "padding": "x" * 20_000}},
            "invalid_request",
            id="oversized-body",
        ),
        pytest.param({"data": {"grant_type": "password"}}, "unsupported_grant_type", id="password-grant"),
    ],
)  # fmt: skip
async def test_malformed_token_requests_get_rfc6749_errors(
    oauth: httpx.AsyncClient, register: Register, kwargs: dict[str, Any], error: str
) -> None:
    client = await register("auditor")
    assert client.secret is not None

    response = await oauth.post("/oauth/token", auth=(client.client_id, client.secret), **kwargs)

    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_token_endpoint_only_accepts_post(oauth: httpx.AsyncClient) -> None:
    assert (await oauth.get("/oauth/token")).status_code == 405


# --- revocation endpoint ---------------------------------------------------------------------


async def test_owner_revokes_its_token(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor")
    token = (await request_token(oauth, client)).json()["access_token"]
    assert client.secret is not None

    response = await oauth.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(client.client_id, client.secret),
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


@pytest.mark.parametrize(
    ("token", "hint"),
    [
        pytest.param("not-a-token", None, id="garbage"),
        pytest.param("eyJhbGciOiJFUzI1NiJ9.e30.c2ln", None, id="unknown-jwt"),
        pytest.param("not-a-token", "refresh_token", id="refresh-hint"),
        pytest.param("not-a-token", "something_else", id="unknown-hint-ignored"),
    ],
)
async def test_revoking_an_unknown_token_still_answers_200(
    oauth: httpx.AsyncClient, register: Register, token: str, hint: str | None
) -> None:
    client = await register("auditor", auth_method=ClientAuthMethod.client_secret_post)
    form = {"token": token, "client_id": client.client_id, "client_secret": client.secret}

    response = await oauth.post("/oauth/revoke", data={**form, "token_type_hint": hint or ""})

    assert response.status_code == 200
    assert response.json() == {}


async def test_revocation_without_a_token_is_invalid_request(
    oauth: httpx.AsyncClient, register: Register
) -> None:
    client = await register("auditor")
    assert client.secret is not None

    response = await oauth.post(
        "/oauth/revoke", data={"token": ""}, auth=(client.client_id, client.secret)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_only_the_owning_client_can_revoke_a_token(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    owner = await register("auditor")
    stranger = await register("auditor")
    token = (await request_token(oauth, owner)).json()["access_token"]
    assert stranger.secret is not None

    response = await oauth.post(
        "/oauth/revoke", data={"token": token}, auth=(stranger.client_id, stranger.secret)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert (await runtime.verifier.verify(token)).client_id == owner.client_id


async def test_revocation_requires_client_authentication(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    owner = await register("auditor")
    token = (await request_token(oauth, owner)).json()["access_token"]

    response = await oauth.post("/oauth/revoke", data={"token": token})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert (await runtime.verifier.verify(token)).client_id == owner.client_id


async def test_private_key_jwt_client_revokes_its_token(
    oauth: httpx.AsyncClient, register: Register, runtime: AuthRuntime
) -> None:
    client = await register("auditor", auth_method=ClientAuthMethod.private_key_jwt)
    token = (await request_token(oauth, client, "private_key_jwt")).json()["access_token"]
    audience = runtime.settings.issuer + "/oauth/token"

    response = await oauth.post(
        "/oauth/revoke", **credentials(client, "private_key_jwt", audience, token=token)
    )

    assert response.status_code == 200, response.text
    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


# --- discovery -------------------------------------------------------------------------------


async def test_metadata_describes_the_server(
    oauth: httpx.AsyncClient, runtime: AuthRuntime
) -> None:
    response = await oauth.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    document = response.json()
    issuer = runtime.settings.issuer
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == issuer + "/oauth/token"
    assert document["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert document["revocation_endpoint"] == issuer + "/oauth/revoke"
    # people sign in to the consoles with the authorization code grant, PKCE S256 (public client)
    assert document["grant_types_supported"] == ["client_credentials", "authorization_code"]
    assert document["authorization_endpoint"] == issuer + "/oauth/authorize"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    methods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    assert document["token_endpoint_auth_methods_supported"] == [*methods, "none"]
    assert document["revocation_endpoint_auth_methods_supported"] == methods
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["ES256", "RS256"]
    every_scope = set().union(*(role.scopes for role in POLICY.roles.values()))
    assert set(document["scopes_supported"]) == every_scope
    metadata = AuthorizationServerMetadata(document)
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                 "scopes_supported", "grant_types_supported", "response_types_supported",
                 "code_challenge_methods_supported",
                 "token_endpoint_auth_methods_supported", "revocation_endpoint",
                 "token_endpoint_auth_signing_alg_values_supported",
                 "revocation_endpoint_auth_methods_supported"):  # fmt: skip
        getattr(metadata, f"validate_{name}")()


async def test_jwks_serves_the_public_signing_keys(
    oauth: httpx.AsyncClient, runtime: AuthRuntime
) -> None:
    runtime.keystore.rotate("RS256")

    response = await oauth.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert [key["alg"] for key in keys] == ["RS256", "ES256"]
    assert {key["kid"] for key in keys} == {key.kid for key in runtime.keystore.published()}
    for key in keys:
        assert key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()
