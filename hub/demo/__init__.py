"""GridHub."""
