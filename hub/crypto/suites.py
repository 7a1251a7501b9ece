"""Cipher suites for fields at rest: an AEAD that seals values, an HMAC for the blind index.

- AES-256-GCM with HMAC-SHA-256: the default.
- SM4-GCM with HMAC-SM3: for deployments assessed against GB/T 39786 (China's commercial
  cryptography requirements, which call for the SM algorithms).

Both come from `cryptography` (50.x here, on OpenSSL 3+): `AESGCM` for AES, SM4 in GCM mode
through the `Cipher` API (there is no SM4 AEAD class), SM3 as an HMAC and HKDF hash. SM4-GCM
through `Cipher` costs about ten times AES-GCM per value (a new cipher context per value).
Each suite has a one-byte code, written into every sealed value and every wrapped key, so a
value always says how it was sealed and a rotation may change the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12  # GCM's 96-bit nonce, random per value (NIST SP 800-38D §8.2.2)
TAG_BYTES = 16


class Suite(StrEnum):
    AES_256_GCM = "AES-256-GCM/HMAC-SHA-256"
    SM4_GCM = "SM4-GCM/HMAC-SM3"


@dataclass(frozen=True)
class SuiteSpec:
    code: int
    key_bytes: int
    hash: Callable[[], hashes.HashAlgorithm]


SPECS: dict[Suite, SuiteSpec] = {
    Suite.AES_256_GCM: SuiteSpec(code=1, key_bytes=32, hash=hashes.SHA256),
    Suite.SM4_GCM: SuiteSpec(code=2, key_bytes=16, hash=hashes.SM3),
}
BY_CODE: dict[int, Suite] = {spec.code: suite for suite, spec in SPECS.items()}


class DecryptionError(ValueError):
    """A sealed value that does not open: altered, or sealed under another key."""


class Aead(Protocol):
    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes: ...

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...


class _AesGcm:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, data, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionError("authentication failed") from None


class _Sm4Gcm:
    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.SM4(key)

    def seal(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        sealed = encryptor.update(data) + encryptor.finalize()
        return sealed + encryptor.tag

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < TAG_BYTES:
            raise DecryptionError("sealed value too short")
        tag = sealed[-TAG_BYTES:]
        decryptor = Cipher(self._algorithm, modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(sealed[:-TAG_BYTES]) + decryptor.finalize()
        except InvalidTag:
            raise DecryptionError("authentication failed") from None


def aead(suite: Suite, key: bytes) -> Aead:
    return _AesGcm(key) if suite is Suite.AES_256_GCM else _Sm4Gcm(key)


class Mac:
    """HMAC keyed once; each use copies the keyed state (about a third of re-keying)."""

    def __init__(self, suite: Suite, key: bytes) -> None:
        self._keyed = hmac.HMAC(key, SPECS[suite].hash())

    def digest(self, data: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(data)
        return mac.finalize()


def derive(suite: Suite, secret: bytes, *, info: bytes, length: int) -> bytes:
    """A key for one purpose from `secret` (HKDF, RFC 5869, with the suite's hash)."""
    return HKDF(algorithm=SPECS[suite].hash(), length=length, salt=None, info=info).derive(secret)
