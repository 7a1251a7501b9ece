"""The hub's token signing keys: one private key per file, newest signs, older ones verify.

Layout of `settings.signing_keys_dir` (mode 0700)::

    20261130T024131123456Z_<kid>.jwk.json    private JWK (RFC 7517), mode 0600

The file name carries the creation time; the kid is the key's RFC 7638 thumbprint. An
operator may also drop in a PEM private key (`*.pem`, ES256 on P-256 or RS256 with at least
2048 bits); its creation time is the file's modification time.

Rotation (`hub keys rotate`) adds a key that becomes the signer at once. An older key stays
published in the JWKS and keeps verifying until every token it may have signed has expired:
rotation time (its successor's creation) + token TTL + leeway. After that `prune()` deletes it.

Several processes share the directory (uvicorn workers, `hub keys rotate` run beside the
server): each store re-reads it at most every `RELOAD_SECONDS`, and sooner when asked for a kid
it does not know (at most every `UNKNOWN_KID_RELOAD_SECONDS`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from hub.config import Settings

log = logging.getLogger(__name__)

Algorithm = Literal["ES256", "RS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "RS256")
RSA_KEY_BITS = 2048
MIN_RSA_KEY_BITS = 2048

_JWK_NAME = re.compile(r"^(?P<created>\d{8}T\d{12}Z)_(?P<kid>[A-Za-z0-9_-]{8,128})\.jwk\.json$")
_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"


class KeyStoreError(RuntimeError):
    """Signing keys are missing or unusable; the message names the directory and the fix."""


@dataclass(frozen=True)
class SigningKey:
    """One key of the store, with the times that decide its state."""

    kid: str
    algorithm: Algorithm
    created_at: datetime
    key: Key
    path: Path
    retired_at: datetime | None = None  # its successor's creation time; None for the signer
    expires_at: datetime | None = None  # retired_at + TTL + leeway: no longer published

    def status(self, now: datetime) -> Literal["signing", "verifying", "expired"]:
        if self.retired_at is None:
            return "signing"
        assert self.expires_at is not None
        return "verifying" if now < self.expires_at else "expired"

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK, for the JWKS (RFC 7517 §5)."""
        return self.key.as_dict(private=False, kid=self.kid, alg=self.algorithm, use="sig")


class KeyStore:
    """Signing keys kept as files; safe to share between the event loop and worker threads."""

    RELOAD_SECONDS = 10.0
    UNKNOWN_KID_RELOAD_SECONDS = 1.0

    def __init__(
        self,
        directory: Path,
        *,
        retention: timedelta,
        generate_missing: bool,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.directory = directory
        self.retention = retention
        self.generate_missing = generate_missing
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._keys: tuple[SigningKey, ...] = ()
        self._loaded_at = float("-inf")  # monotonic time of the last directory read

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], datetime] | None = None
    ) -> KeyStore:
        """Dev generates a missing key set on first use; prod refuses to run without one."""
        retention = timedelta(seconds=settings.token_ttl_seconds + settings.token_leeway_seconds)
        return cls(
            settings.signing_keys_dir,
            retention=retention,
            generate_missing=settings.is_dev,
            clock=clock,
        )

    def now(self) -> datetime:
        return self._clock()

    # --- reading ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Make sure a signer exists (dev: generate one; prod: fail naming the fix)."""
        self._current(force=True)

    def signing_key(self) -> SigningKey:
        """The newest key; every new token is signed with it."""
        return self._current()[-1]

    def verification_key(self, kid: str) -> SigningKey | None:
        """The published key with this kid, re-reading the directory (rate-limited) on a miss."""
        key = self._find(self._current(), kid)
        if key is None and self._since_load() >= self.UNKNOWN_KID_RELOAD_SECONDS:
            key = self._find(self._current(force=True), kid)
        return key

    def published(self) -> list[SigningKey]:
        """Keys that still verify: the signer and retired keys within their retention."""
        now = self.now()
        return [key for key in self._current() if key.status(now) != "expired"]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5): public parts only, newest first."""
        return {"keys": [key.public_jwk() for key in reversed(self.published())]}

    def list_keys(self) -> list[SigningKey]:
        """Every key on disk, oldest first, without generating one (for `hub keys list`)."""
        with self._lock:
            self._keys = self._read()
            self._loaded_at = time.monotonic()
            return list(self._keys)

    # --- writing ---------------------------------------------------------------------------

    def rotate(self, algorithm: Algorithm = "ES256") -> SigningKey:
        """Add a new key, which becomes the signer; older keys keep verifying for a while."""
        if algorithm not in ALGORITHMS:
            raise KeyStoreError(f"unsupported algorithm {algorithm!r}; use one of {ALGORITHMS}")
        with self._lock:
            self._write_new_key(algorithm)
            self._keys = self._read()
            self._loaded_at = time.monotonic()
            return self._keys[-1]

    def prune(self) -> list[str]:
        """Delete keys past their retention; return their kids. The signer is never deleted."""
        now = self.now()
        with self._lock:
            expired = [key for key in self._read() if key.status(now) == "expired"]
            for key in expired:
                key.path.unlink(missing_ok=True)
            self._keys = self._read()
            self._loaded_at = time.monotonic()
        return [key.kid for key in expired]

    # --- internals -------------------------------------------------------------------------

    def _since_load(self) -> float:
        return time.monotonic() - self._loaded_at

    @staticmethod
    def _find(keys: tuple[SigningKey, ...], kid: str) -> SigningKey | None:
        return next((key for key in keys if key.kid == kid), None)

    def _current(self, *, force: bool = False) -> tuple[SigningKey, ...]:
        if not force and self._keys and self._since_load() < self.RELOAD_SECONDS:
            return self._keys
        with self._lock:
            keys = self._read()
            if not keys:
                keys = self._generate_first()
            self._keys, self._loaded_at = keys, time.monotonic()
            return keys

    def _generate_first(self) -> tuple[SigningKey, ...]:
        if not self.generate_missing:
            raise KeyStoreError(
                f"no signing keys in {self.directory}; create one with `hub keys rotate`"
                " (HUB_KEYS_DIR or HUB_VAR_DIR choose the directory)"
            )
        log.warning("no signing keys in %s; generating one (dev mode)", self.directory)
        self._write_new_key("ES256")
        return self._read()

    def _read(self) -> tuple[SigningKey, ...]:
        """Every usable key file, oldest first, with retirement times filled in."""
        if not self.directory.is_dir():
            return ()
        found: dict[str, tuple[datetime, Algorithm, Key, Path]] = {}
        for path in sorted(self.directory.iterdir()):
            loaded = _load_key_file(path)
            if loaded is not None:
                kid, created, algorithm, key = loaded
                found.setdefault(kid, (created, algorithm, key, path))
        ordered = sorted(found.items(), key=lambda item: (item[1][0], item[0]))
        keys: list[SigningKey] = []
        for index, (kid, (created, algorithm, key, path)) in enumerate(ordered):
            successor = ordered[index + 1][1][0] if index + 1 < len(ordered) else None
            keys.append(
                SigningKey(
                    kid=kid,
                    algorithm=algorithm,
                    created_at=created,
                    key=key,
                    path=path,
                    retired_at=successor,
                    expires_at=successor + self.retention if successor else None,
                )
            )
        return tuple(keys)

    def _write_new_key(self, algorithm: Algorithm) -> Path:
        key: Key = (
            ECKey.generate_key("P-256", private=True)
            if algorithm == "ES256"
            else RSAKey.generate_key(RSA_KEY_BITS, private=True)
        )
        kid = key.thumbprint()
        existing = self._read()
        created = self.now()
        if existing and created <= existing[-1].created_at:
            # The newest key signs: keep creation times strictly increasing, whatever the clock.
            created = existing[-1].created_at + timedelta(microseconds=1)
        document = key.as_dict(private=True, kid=kid, alg=algorithm, use="sig")
        name = f"{created.strftime(_TIME_FORMAT)}_{kid}.jwk.json"
        return _write_private_file(self.directory, name, json.dumps(document, indent=2))


def _write_private_file(directory: Path, name: str, content: str) -> Path:
    """Write atomically with mode 0600 (never readable by others, not even briefly)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / name
    temporary = directory / f".{name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def _load_key_file(path: Path) -> tuple[str, datetime, Algorithm, Key] | None:
    """Read one key file; a stray or broken file is logged and skipped, never fatal."""
    if path.name.startswith(".") or not path.is_file():
        return None
    match = _JWK_NAME.match(path.name)
    if match is None and path.suffix != ".pem":
        return None
    try:
        if match is not None:
            key = _import_jwk(path.read_text(encoding="utf-8"))
            created = datetime.strptime(match["created"], _TIME_FORMAT).replace(tzinfo=UTC)
        else:
            key = _import_pem(path.read_bytes())
            created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        algorithm = _algorithm_of(key)
    except (OSError, ValueError, JoseError) as error:
        log.error("ignoring signing key file %s: %s", path, error)
        return None
    if path.stat().st_mode & 0o077:
        log.warning("signing key file %s is readable by others; chmod 600 it", path)
    return key.thumbprint(), created, algorithm, key


def _import_jwk(text: str) -> Key:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a JWK object")
    kty = data.get("kty")
    if kty == "EC":
        return ECKey.import_key(data)
    if kty == "RSA":
        return RSAKey.import_key(data)
    raise ValueError(f"unsupported key type {kty!r}")


def _import_pem(data: bytes) -> Key:
    for key_class in (ECKey, RSAKey):
        try:
            return key_class.import_key(data)
        except (ValueError, TypeError, JoseError):
            continue
    raise ValueError("not an EC or RSA private key in PEM")


def _algorithm_of(key: Key) -> Algorithm:
    """ES256 for P-256 keys, RS256 for RSA keys of at least 2048 bits; private keys only."""
    if not key.is_private:
        raise ValueError("not a private key")
    if isinstance(key, ECKey) and key.curve_name == "P-256":
        return "ES256"
    if isinstance(key, RSAKey) and key.raw_value.key_size >= MIN_RSA_KEY_BITS:
        return "RS256"
    raise ValueError("only P-256 (ES256) and RSA >= 2048 bits (RS256) keys can sign tokens")
