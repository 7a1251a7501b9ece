"""Authentication and authorization: OAuth 2.0 server, token verification, role policy."""
