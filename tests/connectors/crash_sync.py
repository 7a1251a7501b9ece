"""Entry point for the crash tests: `python tests/connectors/crash_sync.py DATABASE_URL CONNECTORS_TOML VAR_DIR`.

Runs one `hub.sync.sync` over every configured connector, as `hub sync` would; the test
SIGKILLs it at random moments and then lets it finish.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hub.config import Settings
from hub.crypto.store import attach_field_keys
from hub.storage.session import create_engine
from hub.sync import sync


async def main(database_url: str, connectors: Path, var_dir: Path) -> int:
    settings = Settings(database_url=database_url, connectors=connectors, var_dir=var_dir)
    engine = create_engine(database_url)
    attach_field_keys(engine, settings)  # the test's own dev master key, under its var dir
    try:
        summaries = await sync(settings, engine, env={})
    finally:
        await engine.dispose()
    return 0 if all(s.status.value == "SUCCEEDED" for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
