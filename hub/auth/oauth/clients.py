"""Registered clients as authlib sees them, and private_key_jwt client authentication.

client_secret_basic and client_secret_post (RFC 6749 §2.3.1) are authlib's own methods, which
call `RegisteredClient.check_client_secret`; private_key_jwt (RFC 7523 §2.2, §3) is
`PrivateKeyJWT`, with pinned algorithms and replay protection. Both run in authlib's worker
thread and reach the database through `anyio.from_thread.run`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.from_thread
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete

from hub.auth.client_secrets import ClientSecretHasher
from hub.auth.clients import ClientAuthMethod, effective_scopes, upgrade_secret_hash
from hub.auth.oauth.metadata import TOKEN_PATH
from hub.auth.scopes import split_scope
from hub.auth.tokens import LOCAL_ALGORITHMS
from hub.storage.base import utcnow
from hub.storage.models import OAuthClient, UsedClientAssertion
from hub.storage.upsert import insert_or_ignore

if TYPE_CHECKING:
    from hub.auth.runtime import AuthRuntime

MAX_ASSERTION_LIFETIME = timedelta(hours=1)


class RegisteredClient(ClientMixin):  # type: ignore[misc]
    """A snapshot of one registered client, detached from the database session.

    An unknown or revoked client id yields a decoy that fails every check after paying the
    same (keyed hash) cost, so neither timing nor error text reveals which ids exist. A right
    secret under an old argon2 hash gets the keyed hash stored in its place.
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
        hasher: ClientSecretHasher,
        runtime: AuthRuntime | None = None,
    ) -> None:
        self.client_id = client_id
        self.role = role
        self.grid = grid
        self.scopes = scopes
        self.auth_method = auth_method
        self.secret_hash = secret_hash
        self.jwks = jwks
        self._hasher = hasher
        self._runtime = runtime

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in split_scope(scope or "") if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """In authlib's worker thread; the database is reached through the event loop."""
        matched = self._hasher.verify(self.secret_hash, client_secret)
        if matched and self._runtime is not None and self._hasher.needs_upgrade(self.secret_hash):
            anyio.from_thread.run(_upgrade, self._runtime, self.client_id, client_secret)
        return matched

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.auth_method is not None and method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


async def load_client(runtime: AuthRuntime, client_id: str) -> RegisteredClient:
    """The client with this id, or the decoy for an unknown, revoked or malformed id."""
    hasher = runtime.secret_hasher
    record = None
    if isinstance(client_id, str) and 0 < len(client_id) <= 64:
        async with runtime.sessionmaker() as session:
            record = await session.get(OAuthClient, client_id)
    if record is None or record.revoked_at is not None:
        return RegisteredClient(client_id=str(client_id), hasher=hasher)
    return RegisteredClient(
        client_id=record.client_id,
        role=record.role,
        grid=record.grid_code,
        scopes=effective_scopes(record, runtime.policy),
        auth_method=record.token_endpoint_auth_method,
        secret_hash=record.secret_hash,
        jwks=record.jwks,
        hasher=hasher,
        runtime=runtime,
    )


async def _upgrade(runtime: AuthRuntime, client_id: str, secret: str) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await upgrade_secret_hash(
            session, client_id=client_id, secret=secret, hasher=runtime.secret_hasher
        )


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """private_key_jwt (RFC 7523 §2.2, §3) with pinned algorithms and replay protection."""

    CLIENT_AUTH_METHOD = ClientAuthMethod.private_key_jwt.value

    def __init__(self, runtime: AuthRuntime) -> None:
        super().__init__(validate_jti=True, leeway=runtime.settings.token_leeway_seconds)
        self._runtime = runtime

    def get_audiences(self) -> list[str]:
        """RFC 7523 §3 item 3: the token endpoint URL, or the issuer identifier itself."""
        issuer = self._runtime.settings.issuer
        return [issuer + TOKEN_PATH, issuer]

    def resolve_client_public_key(self, client: RegisteredClient) -> KeySet:
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
        return anyio.from_thread.run(remember_assertion, self._runtime, claims["sub"], jti, expires)


async def remember_assertion(
    runtime: AuthRuntime, client_id: str, jti: str, expires_at: datetime
) -> bool:
    """Record a used assertion; False when its jti was seen before (a replay)."""
    async with runtime.engine.begin() as connection:
        table = UsedClientAssertion
        await connection.execute(delete(table).where(table.expires_at < utcnow()))
        values = {"client_id": client_id, "jti": jti, "expires_at": expires_at}
        return await insert_or_ignore(connection, table, values)
