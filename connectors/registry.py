"""The connector kinds, one line each, and building configured sources from the TOML.

Adding a kind: write its Source/Stream module, add its config model to `connectors/config.py`
and one line to `KINDS`. Adding a department source needs no Python at all: declare it in the
connectors TOML (see connectors/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.base import Source
from connectors.config import ConnectorsConfig
from connectors.errors import ConfigError
from connectors.files import FilesSource
from connectors.http import HttpSource
from connectors.sql import SqlSource

SourceFactory = Callable[..., Source]

KINDS: dict[str, SourceFactory] = {
    "http": HttpSource,
    "sql": SqlSource,
    "files": FilesSource,
}


def build_source(config: ConnectorsConfig, name: str, *, env: Mapping[str, str]) -> Source:
    """The configured connector `name`; secrets are read from `env` now, once."""
    try:
        source_config: Any = config.connectors[name]
    except KeyError:
        known = ", ".join(config.connectors) or "none configured"
        raise ConfigError(f"no connector named {name!r} (known: {known})") from None
    factory = KINDS[source_config.kind]
    return factory(name, source_config, code_tables=config.code_tables, env=env)


def select_connectors(config: ConnectorsConfig, names: Sequence[str]) -> list[str]:
    """The names asked for (all enabled ones when none are), unknown names refused up front."""
    if not names:
        return [name for name, source in config.connectors.items() if source.enabled]
    unknown = [name for name in names if name not in config.connectors]
    if unknown:
        known = ", ".join(config.connectors) or "none configured"
        raise ConfigError(f"unknown connector(s) {', '.join(unknown)} (known: {known})")
    return list(names)
