"""Client secrets: generated, high-entropy, verified with a fast keyed hash.

A client secret is 256 random bits, never chosen by a person, so nothing is gained by
making each verification slow (argon2 exists to slow down guessing of low-entropy human
passwords, and argon2 is what people's passwords keep). Secrets are stored as
`hmac-sha256$<hex>`: HMAC-SHA256 under `HUB_CLIENT_SECRET_KEY` (generated under
`$HUB_VAR_DIR` in dev, required in prod), compared in constant time; a stolen database
without the key reveals nothing that can be checked offline.

Verification costs microseconds, so a flood of bad logins costs almost nothing, and an
unknown client id is answered exactly as fast as a wrong secret (the decoy is hashed too).
Hashes from before (argon2id) still verify, slowly, and are replaced by the keyed hash at
the client's next successful authentication (`needs_upgrade`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.config import Settings

PREFIX = "hmac-sha256$"
_DECOY = PREFIX + "0" * 64


class ClientSecretKeyError(RuntimeError):
    pass


def client_secret_key(settings: Settings) -> bytes:
    """`HUB_CLIENT_SECRET_KEY`, or in dev a key generated once under the var directory."""
    if settings.client_secret_key is not None:
        return settings.client_secret_key.get_secret_value().encode()
    if not settings.is_dev:
        raise ClientSecretKeyError(
            "HUB_CLIENT_SECRET_KEY is not set: production needs a secret key for client secret "
            "hashes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    path = settings.var_dir / "client-secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip().encode()
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class ClientSecretHasher:
    """Hashes new client secrets under `key`; verifies keyed and (legacy) argon2 hashes."""

    key: bytes
    legacy: PasswordHasher = field(default_factory=PasswordHasher)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, legacy: PasswordHasher | None = None
    ) -> ClientSecretHasher:
        return cls(client_secret_key(settings), legacy or PasswordHasher())

    def hash(self, secret: str) -> str:
        digest = hmac.new(self.key, secret.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest

    def verify(self, stored: str | None, secret: str) -> bool:
        """Constant time for keyed hashes; a missing hash costs the same and fails."""
        if stored is not None and not stored.startswith(PREFIX):
            return _argon2(self.legacy, stored, secret)
        expected = stored or _DECOY
        matched = hmac.compare_digest(self.hash(secret), expected)
        return matched and stored is not None

    @staticmethod
    def needs_upgrade(stored: str | None) -> bool:
        """A hash of the old kind, to be replaced once the secret has been seen right."""
        return stored is not None and not stored.startswith(PREFIX)


def _argon2(hasher: PasswordHasher, stored: str, secret: str) -> bool:
    try:
        return hasher.verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
