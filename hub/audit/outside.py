"""Where checkpoints go besides the database: an append-only file or folder, an HTTP witness.

`HUB_AUDIT_CHECKPOINT_DIR` names a file (a name with a suffix, e.g. `checkpoints.jsonl`) or
a folder (anything else), where one file per UTC day (`checkpoints-2026-12-01.jsonl`) keeps
lines appended by every hub process. Each checkpoint is one JSON line written with a single
`O_APPEND` write and fsynced; nothing is ever rewritten. Point it at storage the
database's administrators cannot change (another host, a WORM mount) and the checkpoints
there prove what the trail held. `HUB_AUDIT_WITNESS_URL`, when set, receives each line
as an HTTP POST (JSON); a witness that fails is logged and never holds the hub up.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from hub.audit.checkpoints import CheckpointLine

logger = logging.getLogger("gridhub.audit")
WITNESS_TIMEOUT_SECONDS = 5.0


class OutsideSink(Protocol):
    async def put(self, line: CheckpointLine) -> None: ...


def is_folder(path: Path) -> bool:
    return path.is_dir() or not path.suffix


class FileSink:
    """Appends checkpoint lines to a file, or to a day's file in a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def target(self, line: CheckpointLine) -> Path:
        if is_folder(self.path):
            return self.path / f"checkpoints-{line.claims.signed_at:%Y-%m-%d}.jsonl"
        return self.path

    async def put(self, line: CheckpointLine) -> None:
        await asyncio.to_thread(self._append, self.target(line), line.json_line())

    @staticmethod
    def _append(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class WitnessSink:
    """POSTs each checkpoint line to a witness that keeps its own copy."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def put(self, line: CheckpointLine) -> None:
        async with httpx.AsyncClient(timeout=WITNESS_TIMEOUT_SECONDS) as client:
            response = await client.post(self.url, json=line.document())
        if response.status_code >= 300:
            raise RuntimeError(f"witness {self.url} answered {response.status_code}")


def read_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, document) for every line of a checkpoint file or folder, in file order.

    Raises ValueError naming the file and line that is not JSON.
    """
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    document = orjson.loads(raw)
                except orjson.JSONDecodeError as error:
                    raise ValueError(f"{file}:{number} is not JSON ({error})") from None
                if not isinstance(document, dict):
                    raise ValueError(f"{file}:{number} is not a JSON object")
                yield f"{file.name}:{number}", document
