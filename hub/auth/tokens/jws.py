"""A token as a compact JWS: splitting it, judging its header, checking its signature.

Nothing read here is trusted before `verify_signature` has checked it with a key the verifier
chose; the header only names the key (`kid`) and an algorithm from an explicit allow-list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64decode

from hub.auth.issuers import ASYMMETRIC_ALGORITHMS
from hub.auth.tokens.claims import LOCAL_ALGORITHMS, TokenError
from hub.auth.tokens.jwks import RemoteKeySet

MAX_TOKEN_BYTES = 8 * 1024
# RFC 9068 §4: "at+jwt" or "application/at+jwt", compared case-insensitively.
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_EXTERNAL_TOKEN_TYPES = _ACCESS_TOKEN_TYPES | {"jwt", "application/jwt"}
# Header parameters that could make a verifier fetch, trust or reinterpret something the
# token itself chose (RFC 8725 §3.10 for jku/x5u/jwk/x5c; RFC 7515 §4.1.11 crit; RFC 7797 b64).
_FORBIDDEN_HEADERS = frozenset({"crit", "jwk", "jku", "x5u", "x5c", "b64", "cty", "enc", "zip"})


@dataclass(frozen=True)
class ParsedToken:
    """A token split into its parts; nothing here is trusted before the signature is checked."""

    header: dict[str, Any]
    claims: dict[str, Any]


def parse(token: str) -> ParsedToken:
    """Split a compact JWS (RFC 7515 §7.1) without trusting any of it."""
    if not isinstance(token, str) or not token:
        raise TokenError("malformed token")
    if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
        raise TokenError("token too large")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise TokenError("malformed token")
    try:
        header = json_b64decode(parts[0].encode("ascii"))
        claims = json_b64decode(parts[1].encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        raise TokenError("malformed token") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("malformed token")
    return ParsedToken(header=header, claims=claims)


def check_header(
    header: Mapping[str, Any], *, local: bool, remote: RemoteKeySet | None
) -> tuple[str, str]:
    """Type, algorithm and key id of an acceptable header (RFC 9068 §4, RFC 8725 §3)."""
    if _FORBIDDEN_HEADERS & header.keys():
        raise TokenError("token header is not accepted")
    typ = header.get("typ")
    allowed_types = _ACCESS_TOKEN_TYPES if local else _EXTERNAL_TOKEN_TYPES
    if not isinstance(typ, str) or typ.lower() not in allowed_types:
        raise TokenError("token type must be at+jwt")
    algorithm = header.get("alg")
    allowed = (
        LOCAL_ALGORITHMS
        if remote is None
        else ASYMMETRIC_ALGORITHMS & set(remote.trusted.algorithms)
    )
    if not isinstance(algorithm, str) or algorithm not in allowed:
        raise TokenError("token signing algorithm is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token signed with an unknown key")
    return algorithm, kid


def verify_signature(token: str, key: Key, algorithm: str) -> dict[str, Any]:
    """Check the signature with exactly this key and algorithm; return the signed claims."""
    if not isinstance(key, RSAKey | ECKey) or (key.alg and key.alg != algorithm):
        raise TokenError("token signed with an unknown key")
    registry = JWSRegistry(algorithms=[algorithm])
    try:
        signed = jws.deserialize_compact(token, key, algorithms=[algorithm], registry=registry)
        claims = json.loads(signed.payload)
    except (JoseError, ValueError, TypeError):
        raise TokenError("token signature is invalid") from None
    if not isinstance(claims, dict):
        raise TokenError("malformed token")
    return claims
