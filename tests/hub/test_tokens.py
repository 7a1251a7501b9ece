"""Access tokens: what the issuer signs, and every way the verifier refuses a token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jws import JWSRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.keys import KeyStore, SigningKey
from hub.auth.policy import load_policy
from hub.auth.runtime import AuthRuntime
from hub.auth.tokens import TokenError, TokenVerifier, revoke
from hub.auth.tokens.jwks import RemoteKeySet
from hub.config import Settings, TrustedIssuer

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
POLICY = load_policy()
IDP_ISSUER = "https://idp.example/realms/gridhub"


@pytest.fixture
def runtime(settings: Settings, engine: AsyncEngine) -> AuthRuntime:
    return AuthRuntime.create(settings, engine, POLICY, password_hasher=FAST_HASHER)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


def sign(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    """Sign whatever header we like: joserfc's algorithm, none of its header checks."""
    signing_input = segments(header, claims)
    algorithm = JWSRegistry.algorithms[header["alg"]]
    return signing_input + "." + b64(algorithm.sign(signing_input.encode(), key))


@dataclass
class Forge:
    """Material for hand-made tokens: our signer, good claims, a good header."""

    settings: Settings
    signer: SigningKey

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": "gh_client",
            "client_id": "gh_client",
            "scope": "resident:basic health:read",
            "roles": ["health_officer"],
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": f"jti-{time.monotonic_ns()}",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def header(self, **changes: Any) -> dict[str, Any]:
        header = {"typ": "at+jwt", "alg": self.signer.algorithm, "kid": self.signer.kid}
        header.update(changes)
        return header

    def token(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        return sign(header or self.header(), self.claims(**claims), self.signer.key)


@pytest.fixture
def forge(runtime: AuthRuntime) -> Forge:
    return Forge(runtime.settings, runtime.keystore.signing_key())


# --- issuing ---------------------------------------------------------------------------------


async def test_issued_token_carries_the_rfc9068_header_and_claims(runtime: AuthRuntime) -> None:
    token, ttl = runtime.issuer.issue(
        client_id="gh_a",
        subject="gh_a",
        scopes={"resident:basic", "grid:read"},
        roles=["grid_worker"],
        grid="410105001",
    )

    header_segment, payload_segment, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    claims = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))
    signer = runtime.keystore.signing_key()
    assert header == {"typ": "at+jwt", "alg": signer.algorithm, "kid": signer.kid}
    assert ttl == runtime.settings.token_ttl_seconds == claims["exp"] - claims["iat"]
    assert claims["iss"] == runtime.settings.issuer
    assert claims["aud"] == "gridhub"
    assert claims["sub"] == claims["client_id"] == "gh_a"
    assert claims["scope"] == "grid:read resident:basic"
    assert claims["roles"] == ["grid_worker"]
    assert claims["grid"] == "410105001"
    assert claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) >= 16


async def test_grid_claim_is_left_out_when_unset(runtime: AuthRuntime) -> None:
    token, _ = runtime.issuer.issue(
        client_id="gh_a", subject="gh_a", scopes=["audit:read"], roles=["auditor"], grid=None
    )
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))

    assert "grid" not in payload


async def test_issued_token_verifies_into_access_claims(runtime: AuthRuntime) -> None:
    token, _ = runtime.issuer.issue(
        client_id="gh_a",
        subject="gh_a",
        scopes={"resident:basic", "grid:read"},
        roles=["grid_worker"],
        grid="410105001",
    )

    claims = await runtime.verifier.verify(token)

    assert claims.issuer == runtime.settings.issuer
    assert (claims.subject, claims.client_id) == ("gh_a", "gh_a")
    assert claims.scopes == {"resident:basic", "grid:read"}
    assert claims.roles == ("grid_worker",)
    assert claims.grid == "410105001"
    assert claims.expires_at - claims.issued_at == timedelta(seconds=900)
    assert claims.issued_at.tzinfo is UTC


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
async def test_access_token_types_are_accepted_case_insensitively(
    runtime: AuthRuntime, forge: Forge, typ: str
) -> None:
    claims = await runtime.verifier.verify(forge.token(forge.header(typ=typ)))

    assert claims.client_id == "gh_client"


async def test_expiry_within_the_leeway_is_tolerated(runtime: AuthRuntime, forge: Forge) -> None:
    now = int(time.time())

    claims = await runtime.verifier.verify(forge.token(iat=now - 900, nbf=now - 900, exp=now - 10))

    assert claims.jti


async def test_scopes_beyond_the_roles_are_dropped(runtime: AuthRuntime, forge: Forge) -> None:
    claims = await runtime.verifier.verify(forge.token(scope="resident:basic police:sensitive"))

    assert claims.scopes == {"resident:basic"}


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("resident:basic\u3000police:sensitive", id="ideographic-space"),
        pytest.param("resident:basic\u00a0police:sensitive", id="no-break-space"),
        pytest.param("resident:basic\tpolice:sensitive", id="tab"),
    ],
)
async def test_scope_claims_split_on_unicode_spaces_are_refused(
    runtime: AuthRuntime, forge: Forge, scope: str
) -> None:
    """RFC 6749 §3.3: only SP separates scope tokens; a token that splits otherwise is malformed."""
    token = forge.token(scope=scope, roles=["police_officer"])

    with pytest.raises(TokenError, match="claims are invalid"):
        await runtime.verifier.verify(token)


async def test_scope_claims_tolerate_repeated_ascii_spaces(
    runtime: AuthRuntime, forge: Forge
) -> None:
    claims = await runtime.verifier.verify(forge.token(scope=" resident:basic  health:read "))

    assert claims.scopes == {"resident:basic", "health:read"}


# --- refusals --------------------------------------------------------------------------------


def _alg_none(forge: Forge) -> str:
    return segments(forge.header(alg="none"), forge.claims()) + "."


def _hs256_with_public_key(forge: Forge) -> str:
    """Algorithm confusion: HMAC keyed with our public key, as a naive verifier would check."""
    header = forge.header(alg="HS256")
    signing_input = segments(header, forge.claims())
    key = forge.signer.key
    assert isinstance(key, ECKey | RSAKey)
    public_pem = key.as_pem(private=False)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def _other_key_with_our_kid(forge: Forge) -> str:
    return sign(forge.header(), forge.claims(), ECKey.generate_key("P-256"))


def _embedded_jwk(forge: Forge) -> str:
    attacker = ECKey.generate_key("P-256")
    header = forge.header(kid=attacker.thumbprint(), jwk=attacker.as_dict(private=False))
    return sign(header, forge.claims(), attacker)


def _jku(forge: Forge) -> str:
    return forge.token(forge.header(jku="https://attacker.example/jwks.json"))


def _x5u(forge: Forge) -> str:
    return forge.token(forge.header(x5u="https://attacker.example/cert.pem"))


def _crit(forge: Forge) -> str:
    return forge.token(forge.header(crit=["exp"], exp=1))


def _oversize(forge: Forge) -> str:
    return forge.token(padding="x" * 8200)


def _jwe_shape(forge: Forge) -> str:
    return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"


def _tampered_payload(forge: Forge) -> str:
    header, _, signature = forge.token().split(".")
    return ".".join([header, segments({}, forge.claims(scope="admin")).split(".")[1], signature])


Case = Callable[[Forge], str]


REFUSALS: list[Any] = [
    pytest.param(lambda forge: "garbage", "malformed", id="garbage"),
    pytest.param(lambda forge: "a.b.c", "malformed", id="three-garbage-segments"),
    pytest.param(_jwe_shape, "malformed", id="jwe-shaped"),
    pytest.param(_alg_none, "algorithm", id="alg-none"),
    pytest.param(_hs256_with_public_key, "algorithm", id="hs256-algorithm-confusion"),
    pytest.param(_other_key_with_our_kid, "signature", id="other-key-with-our-kid"),
    pytest.param(_tampered_payload, "signature", id="tampered-payload"),
    pytest.param(_embedded_jwk, "header", id="embedded-jwk-header"),
    pytest.param(_jku, "header", id="jku-header"),
    pytest.param(_x5u, "header", id="x5u-header"),
    pytest.param(_crit, "header", id="crit-header"),
    pytest.param(lambda f: f.token(f.header(typ="JWT")), "type", id="typ-JWT"),
    pytest.param(
        lambda f: f.token({"alg": f.signer.algorithm, "kid": f.signer.kid}), "type", id="no-typ"
    ),
    pytest.param(_oversize, "too large", id="oversize"),
    pytest.param(lambda f: f.token(f.header(kid="unknown-kid")), "unknown key", id="unknown-kid"),
    pytest.param(
        lambda f: f.token({"typ": "at+jwt", "alg": f.signer.algorithm}), "unknown key", id="no-kid"
    ),
    pytest.param(
        lambda f: f.token(iat=int(time.time()) - 2000, exp=int(time.time()) - 31),
        "expired",
        id="expired-beyond-leeway",
    ),
    pytest.param(
        lambda f: f.token(nbf=int(time.time()) + 120), "not valid yet", id="not-yet-valid"
    ),
    pytest.param(lambda f: f.token(iat=int(time.time()) + 120), "future", id="issued-in-future"),
    pytest.param(lambda f: f.token(iss="https://attacker.example"), "issuer", id="wrong-iss"),
    pytest.param(lambda f: f.token(aud="another-api"), "audience", id="wrong-aud"),
    pytest.param(lambda f: f.token(aud=None), "required claims", id="no-aud"),
    pytest.param(lambda f: f.token(exp=None), "required claims", id="no-exp"),
    pytest.param(lambda f: f.token(jti=None), "required claims", id="no-jti"),
    pytest.param(lambda f: f.token(client_id=None), "required claims", id="no-client-id"),
    pytest.param(lambda f: f.token(roles=["janitor"]), "no role", id="unknown-role"),
    pytest.param(lambda f: f.token(roles=["grid_worker"]), "no grid", id="grid-role-without-grid"),
    pytest.param(lambda f: f.token(roles=5), "invalid", id="roles-not-a-list"),
]


@pytest.mark.parametrize(("make", "reason"), REFUSALS)
async def test_verifier_refuses(
    runtime: AuthRuntime, forge: Forge, make: Case, reason: str
) -> None:
    with pytest.raises(TokenError) as refused:
        await runtime.verifier.verify(make(forge))

    assert reason in refused.value.description


async def test_revoked_jti_is_refused(runtime: AuthRuntime, engine: AsyncEngine) -> None:
    token, _ = runtime.issuer.issue(
        client_id="gh_a", subject="gh_a", scopes=["audit:read"], roles=["auditor"], grid=None
    )
    claims = await runtime.verifier.verify(token)

    await revoke(engine, jti=claims.jti, expires_at=claims.expires_at)
    await revoke(engine, jti=claims.jti, expires_at=claims.expires_at)  # idempotent

    with pytest.raises(TokenError, match="revoked"):
        await runtime.verifier.verify(token)


async def test_error_descriptions_do_not_leak_internals(runtime: AuthRuntime, forge: Forge) -> None:
    descriptions = []
    for param in REFUSALS:
        make = param.values[0]
        try:
            await runtime.verifier.verify(make(forge))
        except TokenError as error:
            descriptions.append(error.description)

    for description in descriptions:
        assert description.isascii()
        assert '"' not in description
        assert len(description) < 80
        assert "Traceback" not in description
        assert "joserfc" not in description


# --- rotation --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_key_rotation_keeps_old_tokens_valid_until_the_old_key_is_pruned(
    settings: Settings, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    keystore = KeyStore.from_settings(settings, clock=clock)
    runtime = AuthRuntime.create(
        settings, engine, POLICY, password_hasher=FAST_HASHER, keystore=keystore
    )

    def issue() -> str:
        token, _ = runtime.issuer.issue(
            client_id="gh_a", subject="gh_a", scopes=["admin"], roles=["admin"], grid=None
        )
        return token

    def kid_of(token: str) -> str:
        header: dict[str, str] = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return header["kid"]

    old_token = issue()
    old_kid = kid_of(old_token)
    new_key = keystore.rotate("RS256")
    new_token = issue()

    assert kid_of(new_token) == new_key.kid != old_kid
    assert {key["kid"] for key in keystore.jwks()["keys"]} == {old_kid, new_key.kid}
    assert (await runtime.verifier.verify(old_token)).client_id == "gh_a"
    assert (await runtime.verifier.verify(new_token)).client_id == "gh_a"

    clock.now += timedelta(seconds=settings.token_ttl_seconds + settings.token_leeway_seconds + 1)
    assert keystore.prune() == [old_kid]

    with pytest.raises(TokenError, match="unknown key"):
        await runtime.verifier.verify(old_token)
    assert (await runtime.verifier.verify(new_token)).client_id == "gh_a"


# --- external issuers ------------------------------------------------------------------------


class JwksServer:
    """A real HTTP server on a loopback port serving one JWK Set, counting fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/protocol/openid-connect/certs"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def publish(self, *keys: Key) -> None:
        self.document = {"keys": [{**key.as_dict(private=False), "use": "sig"} for key in keys]}


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


@pytest.fixture
def idp_key() -> RSAKey:
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    return key


@pytest.fixture
def external(
    settings: Settings, engine: AsyncEngine, jwks_server: JwksServer, idp_key: RSAKey
) -> TokenVerifier:
    trusted = TrustedIssuer(
        issuer=IDP_ISSUER,
        jwks_uri=jwks_server.url,
        audience="gridhub",
        roles_claim="realm_access.roles",
        grid_claim="grid",
        allowed_roles=["service_center_clerk"],
    )
    jwks_server.publish(idp_key)
    configured = settings.model_copy(update={"trusted_issuers": [trusted]})
    keystore = KeyStore.from_settings(configured)
    return TokenVerifier(configured, keystore, POLICY, engine)


def idp_token(key: Key, header: dict[str, Any] | None = None, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": IDP_ISSUER,
        "aud": ["gridhub", "account"],
        "sub": "5f0c-user",
        "azp": "service-center-frontend",
        "realm_access": {"roles": ["offline_access", "service_center_clerk"]},
        "grid": "410105001",
        "scope": "openid profile",
        "iat": now,
        "exp": now + 300,
        "jti": "idp-jti-1",
    }
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return sign(header or {"typ": "JWT", "alg": "RS256", "kid": key.kid}, claims, key)


async def test_token_of_a_trusted_issuer_verifies_with_roles_from_its_claim(
    external: TokenVerifier, idp_key: RSAKey, jwks_server: JwksServer
) -> None:
    claims = await external.verify(idp_token(idp_key))

    assert claims.issuer == IDP_ISSUER
    assert claims.subject == "5f0c-user"
    assert claims.client_id == "service-center-frontend"
    assert claims.roles == ("service_center_clerk",)
    assert claims.grid == "410105001"
    assert claims.scopes == POLICY.role("service_center_clerk").scopes
    assert jwks_server.fetches == 1

    await external.verify(idp_token(idp_key, jti="idp-jti-2"))
    assert jwks_server.fetches == 1  # cached


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"scope": "openid resident:basic"}, {"resident:basic"}, id="scope-string"),
        pytest.param(
            {"scope": None, "scp": ["resident:basic", "grid:read"]},
            {"resident:basic", "grid:read"},
            id="scp-list",
        ),
        pytest.param(
            {"scope": "resident:basic police:sensitive"}, {"resident:basic"}, id="beyond-role"
        ),
    ],
)
async def test_scopes_of_trusted_tokens_are_narrowed_by_their_roles(
    external: TokenVerifier, idp_key: RSAKey, changes: dict[str, Any], expected: set[str]
) -> None:
    claims = await external.verify(idp_token(idp_key, **changes))

    assert claims.scopes == expected


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda k: idp_token(k, nonce="n-0S6"), "not an access token", id="id-token"),
        pytest.param(lambda k: idp_token(k, aud="account"), "audience", id="wrong-aud"),
        pytest.param(
            lambda k: idp_token(k, realm_access={"roles": ["offline_access"]}),
            "no role",
            id="no-hub-role",
        ),
        pytest.param(
            lambda k: idp_token(k, {"typ": "JWT", "alg": "RS256", "kid": "rotated-away"}),
            "unknown key",
            id="unknown-kid",
        ),
        pytest.param(
            lambda k: idp_token(k, {"typ": "id+jwt", "alg": "RS256", "kid": k.kid}),
            "type",
            id="wrong-typ",
        ),
        pytest.param(
            lambda k: idp_token(k, {"typ": "JWT", "alg": "PS256", "kid": k.kid}),
            "algorithm",
            id="alg-not-configured",
        ),
        pytest.param(
            lambda k: idp_token(
                RSAKey.generate_key(2048), {"typ": "JWT", "alg": "RS256", "kid": k.kid}
            ),
            "signature",
            id="forged",
        ),
    ],
)
async def test_trusted_issuer_tokens_are_still_checked(
    external: TokenVerifier, idp_key: RSAKey, make: Callable[[RSAKey], str], reason: str
) -> None:
    with pytest.raises(TokenError) as refused:
        await external.verify(make(idp_key))

    assert reason in refused.value.description


async def test_a_new_issuer_key_is_fetched_on_unknown_kid_at_most_every_30_seconds(
    external: TokenVerifier,
    idp_key: RSAKey,
    jwks_server: JwksServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await external.verify(idp_token(idp_key))
    rotated = RSAKey.generate_key(2048, private=True)
    rotated.ensure_kid()
    jwks_server.publish(idp_key, rotated)

    with pytest.raises(TokenError, match="unknown key"):
        await external.verify(idp_token(rotated))
    assert jwks_server.fetches == 1

    monkeypatch.setattr(RemoteKeySet, "REFRESH_SECONDS", 0.0)
    assert (await external.verify(idp_token(rotated, jti="after-rotation"))).roles
    assert jwks_server.fetches == 2


async def test_an_unreachable_jwks_refuses_the_token(
    settings: Settings, engine: AsyncEngine, idp_key: RSAKey, tmp_path: Path
) -> None:
    trusted = TrustedIssuer(
        issuer=IDP_ISSUER, jwks_uri="http://127.0.0.1:9/jwks", audience="gridhub"
    )
    configured = settings.model_copy(update={"trusted_issuers": [trusted]})
    verifier = TokenVerifier(configured, KeyStore.from_settings(configured), POLICY, engine)

    with pytest.raises(TokenError, match="unknown key"):
        await verifier.verify(idp_token(idp_key))
