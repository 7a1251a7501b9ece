"""Data keys and the key ring: sealing a value, opening it, its blind index.

A sealed value is self-describing bytes::

    version (1) · suite code (1) · key id (4, big-endian) · nonce (12) · ciphertext · tag (16)

The first six bytes, followed by the column's name (`residents.id_number`), are the AEAD's
associated data: a value cannot be moved to another column, nor its header changed, without
failing to open. The blind index of a value is HMAC(index key, column · 0x00 · value), cut to
16 bytes: equal values give equal indexes under one key, so lookup by ID number is one
indexed equality, while the index reveals nothing else without the key.

A `KeyRing` is an immutable snapshot of the data keys: the current one seals and indexes new
values; every key it holds opens; lookups compute one index per key that may still index rows
(during a rotation, two), so a lookup stays a single `IN (…)` on the index.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.crypto.suites import (
    BY_CODE,
    NONCE_BYTES,
    SPECS,
    TAG_BYTES,
    Aead,
    DecryptionError,
    Mac,
    Suite,
    aead,
    derive,
)

FORMAT = 1
HEADER_BYTES = 6
INDEX_BYTES = 16
MATERIAL_BYTES = 32


class FieldCryptoError(ValueError):
    """A sealed value that cannot be opened; the message says which column and why."""


def header(suite: Suite, key_id: int) -> bytes:
    return bytes((FORMAT, SPECS[suite].code)) + key_id.to_bytes(4, "big")


def parse_header(sealed: bytes) -> tuple[Suite, int]:
    """The suite and key id a sealed value names."""
    if len(sealed) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES or sealed[0] != FORMAT:
        raise FieldCryptoError("not a sealed value of a known format")
    suite = BY_CODE.get(sealed[1])
    if suite is None:
        raise FieldCryptoError(f"unknown cipher suite code {sealed[1]}")
    return suite, int.from_bytes(sealed[2:HEADER_BYTES], "big")


def key_id_of(sealed: bytes) -> int:
    return parse_header(sealed)[1]


def seal_with(cipher: Aead, head: bytes, data: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return head + nonce + cipher.seal(nonce, data, head + context)


def open_with(cipher: Aead, sealed: bytes, context: bytes) -> bytes:
    head = sealed[:HEADER_BYTES]
    nonce = sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    return cipher.open(nonce, sealed[HEADER_BYTES + NONCE_BYTES :], head + context)


@dataclass(frozen=True, eq=False)
class DataKey:
    """One data key: a suite, an id, and the two keys derived from its material."""

    id: int
    suite: Suite
    cipher: Aead
    mac: Mac
    head: bytes

    @classmethod
    def from_material(cls, key_id: int, suite: Suite, material: bytes) -> DataKey:
        size = SPECS[suite].key_bytes
        encryption = derive(suite, material, info=b"gridhub/field-encryption", length=size)
        indexing = derive(suite, material, info=b"gridhub/blind-index", length=32)
        return cls(
            key_id, suite, aead(suite, encryption), Mac(suite, indexing), header(suite, key_id)
        )

    def seal(self, column: str, value: str) -> bytes:
        return seal_with(self.cipher, self.head, value.encode("utf-8"), column.encode())

    def open(self, column: str, sealed: bytes) -> str:
        try:
            return open_with(self.cipher, sealed, column.encode()).decode("utf-8")
        except (DecryptionError, UnicodeDecodeError):
            raise FieldCryptoError(
                f"a value of {column} does not open with key {self.id}: altered, or moved "
                "from another column"
            ) from None

    def index(self, column: str, value: str) -> bytes:
        return self.mac.digest(column.encode() + b"\x00" + value.encode("utf-8"))[:INDEX_BYTES]


class KeyRing:
    """The data keys one process knows, at one moment (immutable)."""

    def __init__(
        self, keys: Mapping[int, DataKey], *, current: int, searchable: Sequence[int]
    ) -> None:
        self.keys = dict(keys)
        self.current = self.keys[current]
        self.searchable = tuple(self.keys[key_id] for key_id in searchable)

    def seal(self, column: str, value: str) -> bytes:
        return self.current.seal(column, value)

    def seal_optional(self, column: str, value: str | None) -> bytes | None:
        return None if value is None else self.current.seal(column, value)

    def open(self, column: str, sealed: bytes) -> str:
        _, key_id = parse_header(sealed)
        key = self.keys.get(key_id)
        if key is None:
            raise FieldCryptoError(f"a value of {column} is sealed with key {key_id}, unknown here")
        return key.open(column, sealed)

    def open_optional(self, column: str, sealed: bytes | None) -> str | None:
        return None if sealed is None else self.open(column, sealed)

    def index(self, column: str, value: str) -> bytes:
        """The blind index under the current key (what a write stores)."""
        return self.current.index(column, value)

    def indexes(self, column: str, value: str) -> list[bytes]:
        """The blind index under every key rows may still be indexed with (what a lookup asks)."""
        return [key.index(column, value) for key in self.searchable]


class NoKeyRing(KeyRing):
    """Stands in where no keys were given: any use is an error naming the fix."""

    def __init__(self) -> None:  # deliberately no keys
        self.keys = {}
        self.searchable = ()

    def __getattr__(self, name: str) -> object:
        raise FieldCryptoError("no field keys here: open the database with its settings")

    def seal(self, column: str, value: str) -> bytes:
        raise FieldCryptoError("no field keys here: open the database with its settings")

    def open(self, column: str, sealed: bytes) -> str:
        raise FieldCryptoError("no field keys here: open the database with its settings")

    def indexes(self, column: str, value: str) -> list[bytes]:
        raise FieldCryptoError("no field keys here: open the database with its settings")
