"""Start every department simulator at once: for the demo, the tests and other processes.

`start_simulators` builds one `DepartmentWorld`, serves the health and police APIs with
uvicorn on free loopback ports (in this process, on this event loop), writes the social
security SQLite database and the education exports into a directory, and returns where
everything is plus fresh random credentials. `python -m hub.demo.simulators.run --dir D
--residents N --port-file F` does the same in the foreground until SIGINT/SIGTERM, and writes
F (JSON, mode 0600: it holds secrets) once everything is ready; F is removed on exit.

The hub's demo connectors read where the simulators are from these environment variables
(`RunningSimulators.env()`; also under "env" in the port file):

    GRIDHUB_DEMO_HEALTH_URL            http://127.0.0.1:PORT (API under /api/v1/...)
    GRIDHUB_DEMO_HEALTH_TOKEN_URL      http://127.0.0.1:PORT/oauth/token
    GRIDHUB_DEMO_HEALTH_CLIENT_ID      OAuth 2.0 client id (always `gridhub-demo`)
    GRIDHUB_DEMO_HEALTH_CLIENT_SECRET  OAuth 2.0 client secret (random per run)
    GRIDHUB_DEMO_POLICE_URL            http://127.0.0.1:PORT (API under /api/...)
    GRIDHUB_DEMO_POLICE_API_KEY        value of the X-API-Key header (random per run)
    GRIDHUB_DEMO_SOCIAL_DB_URL         sqlite+aiosqlite:///D/social_security.db
    GRIDHUB_DEMO_EDUCATION_DIR         D/education (学籍_YYYYMMDD.csv and .xlsx)
    GRIDHUB_DEMO_HOTLINE_URL           http://127.0.0.1:PORT (12345 work orders under /api/...)
    GRIDHUB_DEMO_HOTLINE_TOKEN         its bearer token (random per run)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from hub.demo.simulators.education_files import EducationExports, write_education_exports
from hub.demo.simulators.faults import Faults
from hub.demo.simulators.health_api import DEFAULT_TOKEN_TTL, create_health_app
from hub.demo.simulators.hotline_api import HotlineDesk, create_hotline_app
from hub.demo.simulators.police_api import create_police_app
from hub.demo.simulators.social_db import create_social_database
from hub.demo.simulators.world import DepartmentWorld

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.types import ASGIApp

    from hub.demo.district import Scale

ENV_PREFIX = "GRIDHUB_DEMO_"
# Fixed, so a static connectors file can name it; the secret and the API key are new per run.
HEALTH_CLIENT_ID = "gridhub-demo"
SOCIAL_DB_FILE = "social_security.db"
EDUCATION_DIR = "education"
# Streams whose records create residents: an "unknown" person there is simply a new one.
_CREATING_STREAMS = frozenset({"households", "residence-permits"})


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: whoever embeds it (pytest, `main`) owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Served:
    server: _EmbeddedServer
    task: asyncio.Task[None]
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def _serve(app: ASGIApp, host: str, port: int) -> _Served:
    """Serve `app` on `host:port` (0: a free port) and return once it accepts connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every small response on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"simulator on {host}:{port} stopped while starting")
        await asyncio.sleep(0.01)
    bound = sock.getsockname()[1]
    return _Served(
        server, task, f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    )


@dataclass
class RunningSimulators:
    """Where the simulators are, how to get in, and the switches of their faults."""

    world: DepartmentWorld
    health_url: str
    health_client_id: str
    health_client_secret: str
    health_faults: Faults
    police_url: str
    police_api_key: str
    police_faults: Faults
    social_db_path: Path
    education: EducationExports
    hotline: HotlineDesk
    hotline_url: str
    hotline_token: str
    _served: list[_Served] = field(default_factory=list, repr=False)

    @property
    def health_token_url(self) -> str:
        return f"{self.health_url}/oauth/token"

    @property
    def social_db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.social_db_path}"

    @property
    def education_dir(self) -> Path:
        return self.education.csv_path.parent

    def env(self) -> dict[str, str]:
        """The environment variables the hub's demo connectors read (see the module doc)."""
        values = {
            "HEALTH_URL": self.health_url,
            "HEALTH_TOKEN_URL": self.health_token_url,
            "HEALTH_CLIENT_ID": self.health_client_id,
            "HEALTH_CLIENT_SECRET": self.health_client_secret,
            "POLICE_URL": self.police_url,
            "POLICE_API_KEY": self.police_api_key,
            "SOCIAL_DB_URL": self.social_db_url,
            "EDUCATION_DIR": str(self.education_dir),
            "HOTLINE_URL": self.hotline_url,
            "HOTLINE_TOKEN": self.hotline_token,
        }
        return {f"{ENV_PREFIX}{name}": value for name, value in values.items()}

    def describe(self) -> dict[str, Any]:
        """Everything another process needs, JSON-ready (what the port file holds)."""
        return {
            "health": {
                "url": self.health_url,
                "token_url": self.health_token_url,
                "client_id": self.health_client_id,
                "client_secret": self.health_client_secret,
            },
            "police": {"url": self.police_url, "api_key": self.police_api_key},
            "social_db": {"url": self.social_db_url, "path": str(self.social_db_path)},
            "education": {
                "directory": str(self.education_dir),
                "files": [str(path) for path in self.education.paths],
            },
            "hotline": {"url": self.hotline_url, "token": self.hotline_token},
            "env": self.env(),
            "pid": os.getpid(),
        }

    async def stop(self) -> None:
        """Stop every server (requests in flight get up to two seconds)."""
        served, self._served = self._served, []
        await asyncio.gather(*(each.stop() for each in served))

    async def __aenter__(self) -> RunningSimulators:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def inject_bad_records(world: DepartmentWorld, count: int) -> list[str]:
    """`count` bad ID numbers in every stream, and `count` unknown people where they can be."""
    added: list[str] = []
    for name, stream in world.streams.items():
        if not stream.records or count <= 0:
            continue
        added += world.inject_invalid_ids(name, count)
        if name not in _CREATING_STREAMS:
            added += world.inject_unknown_residents(name, count)
    return added


async def start_simulators(
    directory: Path,
    *,
    residents: int = 2000,
    seed: int = 0,
    scale: Scale = "small",
    host: str = "127.0.0.1",
    health_port: int = 0,
    police_port: int = 0,
    token_ttl: float = DEFAULT_TOKEN_TTL,
    bad_records: int = 0,
    encoding: str = "gbk",
    world: DepartmentWorld | None = None,
    appeals: int = 40,
) -> RunningSimulators:
    """Build the world (unless given), write the database and files, and start the APIs
    (health, police and the citizen hotline with `appeals` work orders)."""
    if world is None:
        world = await asyncio.to_thread(
            DepartmentWorld.build, scale=scale, residents=residents, seed=seed
        )
    inject_bad_records(world, bad_records)
    directory.mkdir(parents=True, exist_ok=True)
    social_db_path = (directory / SOCIAL_DB_FILE).resolve()
    await create_social_database(f"sqlite+aiosqlite:///{social_db_path}", world)
    education = write_education_exports(
        directory.resolve() / EDUCATION_DIR, world, encoding=encoding
    )
    client_id, client_secret = HEALTH_CLIENT_ID, secrets.token_urlsafe(32)
    api_key = secrets.token_urlsafe(32)
    health_faults, police_faults = Faults(), Faults()
    health_app = create_health_app(
        world,
        client_id=client_id,
        client_secret=client_secret,
        faults=health_faults,
        token_ttl=token_ttl,
    )
    police_app = create_police_app(world, api_key=api_key, faults=police_faults)
    hotline_desk = HotlineDesk.build(world, appeals=appeals, seed=seed)
    hotline_token = secrets.token_urlsafe(32)
    health = await _serve(health_app, host, health_port)
    police = await _serve(police_app, host, police_port)
    hotline = await _serve(create_hotline_app(hotline_desk, token=hotline_token), host, 0)
    return RunningSimulators(
        world=world,
        health_url=health.url,
        health_client_id=client_id,
        health_client_secret=client_secret,
        health_faults=health_faults,
        police_url=police.url,
        police_api_key=api_key,
        police_faults=police_faults,
        social_db_path=social_db_path,
        education=education,
        hotline=hotline_desk,
        hotline_url=hotline.url,
        hotline_token=hotline_token,
        _served=[health, police, hotline],
    )


# --- the foreground command -----------------------------------------------------------------


def _write_port_file(path: Path, description: dict[str, Any]) -> None:
    """Write atomically and private to this user: the file holds the simulators' secrets."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(description, handle, ensure_ascii=False, indent=2)
    os.replace(partial, path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub.demo.simulators.run",
        description="Run GridHub's department simulators in the foreground until interrupted.",
    )
    parser.add_argument("--dir", type=Path, required=True, help="where the DB and files go")
    parser.add_argument("--residents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", choices=["small", "jinshui"], default="small")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--health-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--police-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--token-ttl", type=float, default=DEFAULT_TOKEN_TTL)
    parser.add_argument("--bad-records", type=int, default=0, help="bad records per stream")
    parser.add_argument("--encoding", default="gbk", help="of the education CSV")
    parser.add_argument("--port-file", type=Path, help="JSON file with URLs and credentials")
    return parser


async def _run(args: argparse.Namespace) -> None:
    simulators = await start_simulators(
        args.dir,
        residents=args.residents,
        seed=args.seed,
        scale=args.scale,
        host=args.host,
        health_port=args.health_port,
        police_port=args.police_port,
        token_ttl=args.token_ttl,
        bad_records=args.bad_records,
        encoding=args.encoding,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.port_file is not None:
            _write_port_file(args.port_file, simulators.describe())
        print(json.dumps(simulators.env(), indent=2), flush=True)
        await stop.wait()
    finally:
        await simulators.stop()
        if args.port_file is not None:
            args.port_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except (OSError, ValueError) as error:
        print(f"simulators: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
