"""`hub connectors check [NAME] [--sample N]`: every problem of the connectors file at once.

First the file itself (TOML, then every key against the format, see
connectors/config_errors.py), then what only the environment can tell: secret variables
that are not set, addresses that are not URLs, folders that do not exist. Nothing is
fetched unless `--sample N` asks for the first page of each stream, and nothing is ever
written (see hub/sync/sample.py). Output is plain text: keys and messages from the file
are never read as rich markup.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.config import ConnectorsConfig, load_config
from connectors.errors import ConfigError, ConnectorError
from connectors.registry import build_source
from hub.cli.runs import cell
from hub.cli_support import print_json, run_with_engine
from hub.config import Settings
from hub.sync.sample import StreamSample, sample_source

out = Console(markup=False, highlight=False, soft_wrap=True)


def run_check(settings: Settings, *, name: str | None, sample: int, as_json: bool) -> int:
    """Print the problems (and samples); the exit status: 1 when anything is wrong."""
    path = settings.connectors
    if path is None:
        problems = [
            "HUB_CONNECTORS is not set; point it at the connectors TOML (connectors/README.md)"
        ]
        config = None
    else:
        config, problems = _file_problems(path, name)
    if config is not None and path is not None:
        problems += _environment_problems(config, _chosen(config, name), origin=str(path))
    samples: list[StreamSample] = []
    if config is not None and not problems and sample:
        samples = _samples(settings, config, _chosen(config, name), sample)
    failed = bool(problems) or any(s.error or s.verdict for s in samples)
    if as_json:
        print_json(
            {"file": str(path), "problems": problems, "samples": [s.as_dict() for s in samples]}
        )
    else:
        _print(path, config, name, problems, samples)
    return 1 if failed else 0


def _file_problems(path: Path, name: str | None) -> tuple[ConnectorsConfig | None, list[str]]:
    try:
        config = load_config(path)
    except ConfigError as error:
        lines = str(error).splitlines()
        mine = f"{path}: connectors.{name}"
        return None, [
            p for p in lines if name is None or p.startswith(mine) or ": connectors." not in p
        ]
    if name is not None and name not in config.connectors:
        known = ", ".join(config.connectors) or "none configured"
        return config, [f"{path}: no connector named {name!r} (known: {known})"]
    return config, []


def _chosen(config: ConnectorsConfig, name: str | None) -> list[str]:
    return [name] if name is not None and name in config.connectors else list(config.connectors)


def _environment_problems(config: ConnectorsConfig, names: list[str], *, origin: str) -> list[str]:
    """What the file cannot say alone: secrets set, URLs well formed, folders present."""

    async def opened(name: str) -> str | None:
        try:
            source = build_source(config, name, env=os.environ)
            try:
                await source.open()  # builds clients and engines; connects to nothing
            finally:
                await source.close()
        except ConnectorError as error:
            return f"{origin}: connectors.{name}: {error}"
        return None

    async def all_of_them() -> list[str]:
        return [p for name in names if (p := await opened(name)) is not None]

    return asyncio.run(all_of_them())


def _samples(
    settings: Settings, config: ConnectorsConfig, names: list[str], count: int
) -> list[StreamSample]:
    async def sampled(engine: AsyncEngine | None) -> list[StreamSample]:
        samples: list[StreamSample] = []
        for name in names:
            source = build_source(config, name, env=os.environ)
            samples += await sample_source(engine, source, count=count)
        return samples

    if not _database_exists(settings.database_url):
        return asyncio.run(sampled(None))  # no empty database file is made to sample
    return run_with_engine(settings, sampled)


def _database_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).exists()


def _print(
    path: Path | None,
    config: ConnectorsConfig | None,
    name: str | None,
    problems: list[str],
    samples: list[StreamSample],
) -> None:
    for problem in problems:
        out.print(problem)
    if problems:
        out.print(f"{len(problems)} problem(s) in {path}")
    elif config is not None:
        names = _chosen(config, name)
        streams = sum(len(config.connectors[n].streams) for n in names)
        out.print(f"{path}: {len(names)} connector(s), {streams} stream(s), no problems")
    for sample in samples:
        _print_sample(sample)


def _print_sample(sample: StreamSample) -> None:
    title = f"{sample.connector}/{sample.stream}: {len(sample.records)} record(s) of the first page"
    out.print()
    if sample.error:
        out.print(f"{sample.connector}/{sample.stream}: cannot read the first page: {sample.error}")
        return
    table = Table("record", "outcome", "what", title=cell(title), title_justify="left")
    for record in sample.records:
        what = record.message if record.message else _compact(record.mapped or {})
        table.add_row(cell(record.key), cell(record.outcome), cell(what))
    out.print(table)
    if sample.note:
        out.print(f"note: {sample.note}")
    if sample.verdict:
        out.print(f"a run would fail: {sample.verdict}")


def _compact(mapped: dict[str, Any]) -> str:
    text = ", ".join(f"{key}={value}" for key, value in mapped.items())
    return text if len(text) <= 240 else f"{text[:237]}…"
