"""Bounds on what a caller can make the hub do: framework-free checks, one ASGI adapter (asgi.py)."""
