"""The master key, `HUB_FIELD_KEY`: it wraps the data keys that seal fields (envelope
encryption), and is never stored beside them.

32 random bytes as 64 hexadecimal characters (`python -c 'import secrets;
print(secrets.token_hex(32))'`). Missing in dev, one is generated into `$HUB_VAR_DIR/field.key`
(mode 0600); missing in prod, the hub refuses to start. A data key is wrapped with the AEAD of
its own suite, under a key derived from the master key for that suite (HKDF with the suite's
hash), bound to its id: an SM4 deployment never runs AES, not even for its keys.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hub.config import Settings
from hub.crypto.ring import MATERIAL_BYTES, header, open_with, parse_header, seal_with
from hub.crypto.suites import SPECS, DecryptionError, Suite, aead, derive

KEY_FILE = "field.key"
_WRAP_CONTEXT = b"field_keys"


class FieldKeyError(ValueError):
    """The master key is missing or does not open the data keys; the message names the fix."""


class MasterKey:
    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise FieldKeyError("HUB_FIELD_KEY must be 32 bytes (64 hexadecimal characters)")
        self._secret = secret

    def hex(self) -> str:
        """The key as HUB_FIELD_KEY spells it."""
        return self._secret.hex()

    def wrap(self, key_id: int, suite: Suite, material: bytes) -> bytes:
        cipher = aead(suite, self._wrapping_key(suite))
        return seal_with(cipher, header(suite, key_id), material, _WRAP_CONTEXT)

    def unwrap(self, key_id: int, wrapped: bytes) -> tuple[Suite, bytes]:
        """The suite and material of a wrapped data key; `FieldKeyError` if it does not open."""
        suite, named = parse_header(wrapped)
        if named != key_id:
            raise FieldKeyError(f"field key {key_id} carries the id {named}: the table was altered")
        try:
            material = open_with(aead(suite, self._wrapping_key(suite)), wrapped, _WRAP_CONTEXT)
        except DecryptionError:
            raise FieldKeyError(
                f"HUB_FIELD_KEY does not open field key {key_id}: it is not the key this "
                "database's fields were sealed under"
            ) from None
        if len(material) != MATERIAL_BYTES:
            raise FieldKeyError(f"field key {key_id} has the wrong length")
        return suite, material

    def _wrapping_key(self, suite: Suite) -> bytes:
        return derive(
            suite, self._secret, info=b"gridhub/field-key-wrap", length=SPECS[suite].key_bytes
        )


def new_material() -> bytes:
    return secrets.token_bytes(MATERIAL_BYTES)


def master_key(settings: Settings) -> MasterKey:
    """HUB_FIELD_KEY, or in dev the generated `$HUB_VAR_DIR/field.key`."""
    if settings.field_key is not None:
        return MasterKey(_hex(settings.field_key.get_secret_value(), "HUB_FIELD_KEY"))
    if not settings.is_dev:
        raise FieldKeyError(
            "HUB_FIELD_KEY is not set: production needs the master key that seals ID and phone "
            "numbers (generate one with `python -c 'import secrets; print(secrets.token_hex(32))'` "
            "and keep it outside the database and its backups)"
        )
    path = settings.var_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return MasterKey(_hex(path.read_text().strip(), str(path)))


def _create_key_file(path: Path) -> None:
    """Written whole under a temporary name, then linked into place: a process racing this
    one sees no file or the whole key, never half of it (the first link wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_hex(32))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _hex(value: str, where: str) -> bytes:
    try:
        secret = bytes.fromhex(value.strip())
    except ValueError:
        raise FieldKeyError(f"{where} must be 64 hexadecimal characters") from None
    if len(secret) != 32:
        raise FieldKeyError(f"{where} must be 64 hexadecimal characters (32 bytes)")
    return secret
