"""How operations run: the standard graphql-core path, guarded by the access rules."""
