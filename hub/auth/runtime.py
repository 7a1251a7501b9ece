"""Everything the auth side needs at run time, built once per application.

`AuthRuntime.create(settings, engine, policy)` is a plain synchronous factory, so it fits in
a synchronous `create_app`. It checks the signing keys at once: in dev a missing key set is
generated; in prod a missing one raises `KeyStoreError` (a start-up error naming the directory
and `hub keys rotate`). The engine stays the caller's, and external JWKS fetches open their
HTTP client per fetch; `close()` writes the login throttles' last failures when the app stops.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.auth.client_secrets import ClientSecretHasher
from hub.auth.clients import default_password_hasher
from hub.auth.keys import KeyStore
from hub.auth.oauth.throttle import FailureThrottle
from hub.auth.policy import Policy
from hub.auth.tokens import TokenIssuer, TokenVerifier
from hub.config import Settings
from hub.storage.session import create_sessionmaker

# Failed client authentications a minute before 429 (README, "Limits"): per address, refused
# before any work; per client id, only wrong secrets are refused (the right one still passes,
# so nobody can lock a client out by failing on purpose).
ADDRESS_FAILURES = 20
CLIENT_FAILURES = 20


@dataclass
class AuthRuntime:
    """Settings, policy, database, keys, token issuer and verifier, shared by the endpoints."""

    settings: Settings
    policy: Policy
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keystore: KeyStore
    issuer: TokenIssuer
    verifier: TokenVerifier
    password_hasher: PasswordHasher
    secret_hasher: ClientSecretHasher
    throttle: FailureThrottle  # failures per (claimed client id, address)
    address_throttle: FailureThrottle  # failures per address, whatever client it claims
    client_throttle: FailureThrottle  # failures per client id, from wherever they come
    max_concurrent_client_authentications: int = 4

    @classmethod
    def create(
        cls,
        settings: Settings,
        engine: AsyncEngine,
        policy: Policy,
        *,
        password_hasher: PasswordHasher | None = None,
        throttle: FailureThrottle | None = None,
        keystore: KeyStore | None = None,
    ) -> AuthRuntime:
        """Build the runtime (synchronous). Tests may pass a cheaper argon2 `password_hasher`
        (it verifies client secrets hashed before keyed hashes), a tighter `throttle` or a
        `keystore` with a fake clock; production passes none."""
        keys = keystore or KeyStore.from_settings(settings)
        keys.ensure()
        legacy = password_hasher or default_password_hasher()
        return cls(
            settings=settings,
            policy=policy,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            keystore=keys,
            issuer=TokenIssuer(settings, keys),
            verifier=TokenVerifier(settings, keys, policy, engine),
            password_hasher=legacy,
            secret_hasher=ClientSecretHasher.from_settings(settings, legacy=legacy),
            throttle=throttle or FailureThrottle(engine=engine, name="pair"),
            address_throttle=FailureThrottle(
                max_failures=ADDRESS_FAILURES, engine=engine, name="address"
            ),
            client_throttle=FailureThrottle(
                max_failures=CLIENT_FAILURES, engine=engine, name="client"
            ),
        )

    async def close(self) -> None:
        """Write the throttles' unwritten failures (when the app stops)."""
        for throttle in (self.throttle, self.address_throttle, self.client_throttle):
            await throttle.close()
