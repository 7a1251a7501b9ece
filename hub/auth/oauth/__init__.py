"""The OAuth 2.0 authorization server, in modules along authlib's own seams.

requests (Starlette ↔ authlib at the HTTP edge) · throttle (failed client authentications) ·
metadata (paths, supported methods, RFC 8414) · clients (the client model and private_key_jwt)
· grants (client credentials) · revocation (RFC 7009) · server (HubAuthorizationServer) ·
routes (the Starlette endpoints, `oauth_routes`). Nothing is re-exported here, so importing
one leaf (the runtime imports `throttle`) does not load authlib's server.
"""
