"""The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) for people at the consoles.

The consoles are a public client of the hub's own authorization server (`CONSOLE_CLIENT_ID`,
no secret: token endpoint auth method "none"), so PKCE is required, S256 only (RFC 9700
§2.1.1). Its redirect URI is `<issuer>/console/callback`; in dev any loopback origin with
that path is accepted too, so a demo reached as localhost or 127.0.0.1 both work.

A code is random (48 characters), stored only as its SHA-256 with the challenge, the user,
the redirect URI and the scopes, lives `CODE_LIFETIME` and is deleted when used (§4.1.2).
The token it buys is the person's: `sub` is the user name, `roles` and `grid` the account's,
the scopes its role's; no refresh token — the console asks again, which needs no password
while the person's login session lives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.from_thread
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import delete

from hub.auth.oauth.clients import RegisteredClient
from hub.auth.scopes import split_scope
from hub.storage.base import utcnow
from hub.storage.models import AuthorizationCode, StaffUser

if TYPE_CHECKING:
    from hub.auth.client_secrets import ClientSecretHasher
    from hub.auth.runtime import AuthRuntime

CONSOLE_CLIENT_ID = "gridhub-console"
CALLBACK_PATH = "/console/callback"
CODE_LIFETIME = timedelta(minutes=10)  # RFC 6749 §4.1.2: "a maximum … of 10 minutes"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConsoleClient(RegisteredClient):
    """The consoles as authlib sees them: public, code grant only, one redirect path."""

    def __init__(self, runtime: AuthRuntime, *, hasher: ClientSecretHasher) -> None:
        super().__init__(
            client_id=CONSOLE_CLIENT_ID,
            role="",
            scopes=frozenset().union(*(r.scopes for r in runtime.policy.roles.values())),
            auth_method="none",
            hasher=hasher,
        )
        self._issuer = runtime.settings.issuer
        self._dev = runtime.settings.is_dev

    def get_default_redirect_uri(self) -> str:
        return self._issuer + CALLBACK_PATH

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri == self._issuer + CALLBACK_PATH:
            return True
        parts = urlsplit(redirect_uri)
        return (
            self._dev
            and parts.scheme == "http"
            and parts.hostname in LOOPBACK_HOSTS
            and parts.path == CALLBACK_PATH
            and not parts.query
            and not parts.fragment
        )

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"

    def check_client_secret(self, client_secret: str) -> bool:
        return False


@dataclass(frozen=True)
class Person:
    """The signed-in person a code or token is for (detached from the database session)."""

    user_id: int
    name: str
    role: str
    grid: str | None

    @classmethod
    def of(cls, user: StaffUser) -> Person:
        return cls(user.id, user.name, user.role, user.grid_code)

    def get_user_id(self) -> int:
        return self.user_id


@dataclass(frozen=True)
class StoredCode:
    """An authorization code as authlib reads it back."""

    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    person: Person
    code_hash: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class RequireS256(CodeChallenge):  # type: ignore[misc]
    """PKCE on every authorization request, S256 only (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (authlib's class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: StoredCode) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: StoredCode) -> str:
        return authorization_code.code_challenge_method


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Codes for people, kept in the database; the hooks run in authlib's worker thread."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # noqa: RUF012 (authlib's class attribute)

    def validate_requested_scope(self) -> None:
        """Scopes beyond the client's are dropped later; the person's role narrows them."""

    def save_authorization_code(self, code: str, request: Any) -> None:
        person: Person = request.user
        runtime: AuthRuntime = self.server.runtime
        role_scopes = runtime.policy.roles[person.role].scopes
        requested = set(split_scope(request.payload.scope or ""))
        scopes = sorted(role_scopes & requested if requested else role_scopes)
        data = request.payload.data
        row = AuthorizationCode(
            code_hash=code_hash(code),
            client_id=request.client.client_id,
            user_id=person.user_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=" ".join(scopes),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            expires_at=utcnow() + CODE_LIFETIME,
        )
        anyio.from_thread.run(_save, runtime, row)

    def query_authorization_code(self, code: str, client: RegisteredClient) -> StoredCode | None:
        if not isinstance(code, str) or len(code) > 256:
            return None
        return anyio.from_thread.run(_take, self.server.runtime, code_hash(code), client.client_id)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Deleted already when it was read: a code is good for one try (RFC 6749 §4.1.2)."""

    def authenticate_user(self, authorization_code: StoredCode) -> Person:
        return authorization_code.person


async def _save(runtime: AuthRuntime, row: AuthorizationCode) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < utcnow())
        )
        session.add(row)


async def _take(runtime: AuthRuntime, digest: str, client_id: str) -> StoredCode | None:
    """Read and delete the code in one transaction: a second use finds nothing."""
    async with runtime.sessionmaker() as session, session.begin():
        row = await session.get(AuthorizationCode, digest, with_for_update=True)
        if row is None:
            return None
        await session.delete(row)
        user = await session.get(StaffUser, row.user_id)
        if row.client_id != client_id or row.expires_at < utcnow() or user is None:
            return None
        if user.disabled_at is not None:
            return None
        return StoredCode(
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            code_challenge=row.code_challenge,
            code_challenge_method=row.code_challenge_method,
            person=Person.of(user),
            code_hash=row.code_hash,
        )
