"""GridHub's GraphQL schema: one module per domain, assembled in `schema.build`."""
