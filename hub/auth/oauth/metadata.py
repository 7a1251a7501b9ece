"""What the authorization server publishes about itself: paths, methods, scopes (RFC 8414)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.auth.clients import ClientAuthMethod
from hub.auth.tokens import LOCAL_ALGORITHMS

if TYPE_CHECKING:
    from hub.auth.runtime import AuthRuntime

AUTHORIZATION_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REVOCATION_PATH = "/oauth/revoke"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

AUTH_METHODS = [method.value for method in ClientAuthMethod]


def scopes_supported(runtime: AuthRuntime) -> list[str]:
    return sorted(frozenset().union(*(role.scopes for role in runtime.policy.roles.values())))


def metadata_document(runtime: AuthRuntime) -> dict[str, Any]:
    """RFC 8414 §2 authorization server metadata."""
    issuer = runtime.settings.issuer
    algorithms = sorted(LOCAL_ALGORITHMS)
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZATION_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "grant_types_supported": ["client_credentials", "authorization_code"],
        "response_types_supported": ["code"],  # the consoles' sign-in (PKCE, S256)
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes_supported(runtime),
        "token_endpoint_auth_methods_supported": [*AUTH_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": algorithms,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": algorithms,
    }
