"""JWT access tokens: issuing (RFC 9068 profile), verifying (RFC 9068 §4, RFC 8725), revoking.

claims (AccessClaims, TokenError, the profile's type and algorithms) · issue (TokenIssuer) ·
verify (TokenVerifier, claim checks) · jws (parsing, header and signature checks) · jwks
(trusted issuers' key sets) · revocation (revoked-token records). The names most callers need
are re-exported here.
"""

from hub.auth.tokens.claims import LOCAL_ALGORITHMS, AccessClaims, TokenError
from hub.auth.tokens.issue import TokenIssuer
from hub.auth.tokens.revocation import revoke
from hub.auth.tokens.verify import TokenVerifier

__all__ = [
    "LOCAL_ALGORITHMS",
    "AccessClaims",
    "TokenError",
    "TokenIssuer",
    "TokenVerifier",
    "revoke",
]
