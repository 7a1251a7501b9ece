"""Signed checkpoints: a chain's head as a JWS, as RFC 6962 logs publish signed tree heads.

A checkpoint is a compact JWS (RFC 7515) signed with the hub's token signing key (the
key of `/.well-known/jwks.json`; hub/auth/keys.py), header
`{"alg", "kid", "typ": "gridhub-audit-checkpoint"}`, whose payload says::

    {"chain_id": …, "seq": 1000, "hash": "<event 1000's hash>", "at": "<its time>",
     "events": 1000, "signed_at": "…", "iss": "<HUB_ISSUER>", "host": …, "pid": …}

`events` is the number of events the chain holds up to `seq` (seq runs 1, 2, 3 …). The
hash of event `seq` covers every event before it, so one checkpoint vouches for the whole
chain up to it: kept where the database's writers cannot reach, it exposes a deleted
chain, a truncated one (head moved back or not) and one rebuilt with recomputed hashes.

A checkpoint travels as one JSON line (`CheckpointLine`): the JWS, the public JWK that
verifies it, and the payload's fields repeated for people reading the file. Only the
JWS counts; the JWK is trusted only when the verifier already holds it, or when it comes
from the checkpoint file the auditor keeps outside the hub (hub/audit/verify.py).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, KeySet, RSAKey
from joserfc.util import json_b64decode, urlsafe_b64decode

from hub.auth.keys import ALGORITHMS, SigningKey
from hub.storage.base import utcnow

CHECKPOINT_TYPE = "gridhub-audit-checkpoint"
TrustedKeys = dict[str, Key]  # kid → key


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted; the message says why."""


class UnknownKeyError(CheckpointError):
    """Signed with a key the verifier does not hold: neither trusted nor shown forged."""


@dataclass(frozen=True)
class CheckpointClaims:
    """What a checkpoint's signature vouches for."""

    chain_id: str
    seq: int
    hash: str
    at: datetime  # the time of event `seq`
    signed_at: datetime
    issuer: str

    def payload(self) -> bytes:
        return orjson.dumps(
            {
                "chain_id": self.chain_id,
                "seq": self.seq,
                "hash": self.hash,
                "at": self.at.isoformat(timespec="microseconds"),
                "events": self.seq,
                "signed_at": self.signed_at.isoformat(timespec="microseconds"),
                "iss": self.issuer,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> CheckpointClaims:
        try:
            data = orjson.loads(payload)
            return cls(
                chain_id=str(data["chain_id"]),
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                at=datetime.fromisoformat(data["at"]),
                signed_at=datetime.fromisoformat(data["signed_at"]),
                issuer=str(data["iss"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"the payload is not a checkpoint ({error})") from None


@dataclass(frozen=True)
class CheckpointLine:
    """A signed checkpoint as stored and exported: the JWS and the key that verifies it."""

    jws: str
    kid: str
    jwk: dict[str, Any]
    claims: CheckpointClaims  # read from the JWS without checking it: for display only

    def document(self) -> dict[str, Any]:
        c = self.claims
        return {
            "type": "checkpoint",
            "chain_id": c.chain_id,
            "seq": c.seq,
            "hash": c.hash,
            "at": c.at.isoformat(timespec="microseconds"),
            "signed_at": c.signed_at.isoformat(timespec="microseconds"),
            "kid": self.kid,
            "jws": self.jws,
            "jwk": self.jwk,
        }

    def json_line(self) -> bytes:
        return orjson.dumps(self.document()) + b"\n"

    def row(self) -> dict[str, Any]:
        """The `audit_checkpoints` row."""
        c = self.claims
        return {
            "chain_id": c.chain_id,
            "seq": c.seq,
            "hash": c.hash,
            "head_at": c.at,
            "signed_at": c.signed_at,
            "kid": self.kid,
            "jws": self.jws,
            "jwk": self.jwk,
        }

    @classmethod
    def parse(cls, document: Mapping[Any, Any]) -> CheckpointLine:
        """From a JSON line or a row: only `jws` is needed; nothing is trusted yet."""
        token = document.get("jws")
        if not isinstance(token, str):
            raise CheckpointError("no `jws` in the checkpoint line")
        header = _header(token)
        jwk = document.get("jwk")
        return cls(
            jws=token,
            kid=str(header.get("kid", "")),
            jwk=dict(jwk) if isinstance(jwk, Mapping) else {},
            claims=CheckpointClaims.from_payload(_unverified_payload(token)),
        )


def sign_checkpoint(
    key: SigningKey, *, chain_id: str, seq: int, hash: str, at: datetime, issuer: str
) -> CheckpointLine:
    claims = CheckpointClaims(chain_id, seq, hash, at, signed_at=utcnow(), issuer=issuer)
    header = {"alg": key.algorithm, "kid": key.kid, "typ": CHECKPOINT_TYPE}
    token = jws.serialize_compact(header, claims.payload(), key.key, algorithms=[key.algorithm])
    return CheckpointLine(jws=token, kid=key.kid, jwk=key.public_jwk(), claims=claims)


def verify_checkpoint(token: str, keys: TrustedKeys) -> CheckpointClaims:
    """The claims of a checkpoint whose signature one of `keys` verifies; else CheckpointError."""
    header = _header(token)
    if header.get("typ") != CHECKPOINT_TYPE:
        raise CheckpointError(f"typ is {header.get('typ')!r}, not {CHECKPOINT_TYPE!r}")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise CheckpointError(f"algorithm {algorithm!r} is not one the hub signs with")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise UnknownKeyError(
            f"signed with key {header.get('kid')!r}, which the verifier does not hold "
            "(pass the hub's JWKS with --jwks, or the checkpoint file that carries the key)"
        )
    try:
        signed = jws.deserialize_compact(token, key, algorithms=[str(algorithm)])
    except (JoseError, ValueError) as error:
        raise CheckpointError(f"the signature does not verify ({error})") from None
    return CheckpointClaims.from_payload(signed.payload)


def import_public_key(jwk: Mapping[str, Any]) -> Key:
    """A public EC or RSA key from a JWK (RFC 7517); ValueError for anything else."""
    data = {name: value for name, value in jwk.items() if name not in ("d", "p", "q")}
    try:
        if data.get("kty") == "EC":
            return ECKey.import_key(data)
        if data.get("kty") == "RSA":
            return RSAKey.import_key(data)
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"not a usable public key: {error}") from None
    raise ValueError(f"unsupported key type {data.get('kty')!r}")


def keys_from_jwks(path: Path) -> TrustedKeys:
    """The keys of a JWK Set file (the hub's /.well-known/jwks.json, saved)."""
    try:
        document = orjson.loads(path.read_bytes())
        key_set = KeySet.import_key_set(document)
    except (OSError, orjson.JSONDecodeError, JoseError, ValueError, TypeError) as error:
        raise ValueError(f"{path} is not a JWK Set: {error}") from None
    return {str(key.kid): key for key in key_set.keys if key.kid}


def _header(token: str) -> dict[str, Any]:
    try:
        header = json_b64decode(token.split(".")[0].encode())
    except (ValueError, IndexError, TypeError) as error:
        raise CheckpointError(f"not a compact JWS ({error})") from None
    if not isinstance(header, dict) or token.count(".") != 2:
        raise CheckpointError("not a compact JWS")
    return header


def _unverified_payload(token: str) -> bytes:
    try:
        return urlsafe_b64decode(token.split(".")[1].encode())
    except (ValueError, IndexError) as error:
        raise CheckpointError(f"not a compact JWS ({error})") from None
