"""Schema extensions: cross-cutting request behaviour, one concern per module."""
