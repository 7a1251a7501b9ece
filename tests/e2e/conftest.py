"""End-to-end fixtures: the hub as a real server process, and a federation gateway before it.

`live_hub` (session): a seeded database (`hub db upgrade`, `hub seed --residents 60 --seed 7`)
in a temporary directory, or in a throwaway `e2e_<random>` database on the PostgreSQL server
named by `HUB_TEST_DATABASE_URL` (so the per-test truncation of the shared test database
cannot touch it), served by `hub serve` on a free loopback port.

`gateway` (session): the subgraph SDLs in schema/sdl composed into a supergraph with
@apollo/composition (tests/e2e/gateway/compose.mjs) and served by Hive Gateway
(tests/e2e/gateway/serve.mjs) on a free loopback port, routing to `live_hub`'s subgraphs.
Gateway tests are skipped, loudly, when `node` or node_modules is missing (run `npm ci`);
`HUB_REQUIRE_GATEWAY=1` turns that skip into a failure. Anything else that goes wrong fails.

The hub enforces `@requiresScopes` and wants an X-Request-Purpose for resident data:
`live_hub.caller_headers(role, grid=…)` registers an OAuth client (`hub clients add`), gets a
token from /oauth/token and returns the headers to send; `full_view_headers` are those of a
service-centre clerk over the whole district (every department, every resident).

Both objects have `post` (the raw response) and `graphql` (the decoded JSON body) helpers,
which take `headers=`; the gateway passes Authorization and X-Request-{Purpose,User,Case} on
to the subgraphs (checked through `recording_proxy` / `recording_gateway`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from hub.storage.models import Grid
from hub.storage.session import create_engine
from schema.build import SUBGRAPHS

REPO_ROOT = Path(__file__).resolve().parents[2]
SDL_DIR = REPO_ROOT / "schema" / "sdl"
GATEWAY_DIR = Path(__file__).resolve().parent / "gateway"
NODE_MODULES = REPO_ROOT / "node_modules"
NODE_PACKAGES = ("@graphql-hive/gateway", "@apollo/composition", "graphql")
HUB_BIN = Path(sys.executable).parent / "hub"

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REQUIRE_GATEWAY = os.environ.get("HUB_REQUIRE_GATEWAY") == "1"

SEED_RESIDENTS = 60
SEED = 7
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# Why the e2e tests read resident data (the hub wants an X-Request-Purpose for it).
E2E_PURPOSE = "e2e test: gateway and hub agree"
# Sees every department's data of the whole district when registered for the district root.
FULL_VIEW_ROLE = "service_center_clerk"

# Client headers the gateway must pass on to every subgraph (see gateway/serve.mjs).
PROPAGATED_HEADERS = ("Authorization", "X-Request-Purpose", "X-Request-User", "X-Request-Case")


# --- talking to a GraphQL endpoint -------------------------------------------------------------


@dataclass(frozen=True)
class GraphQLEndpoint:
    """A running server that answers GraphQL over HTTP; `url` is its origin."""

    url: str
    log_path: Path

    graphql_path = "/graphql"

    def endpoint(self, path: str | None = None) -> str:
        return self.url + (path or self.graphql_path)

    def post(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> httpx.Response:
        """POST a GraphQL document; the raw response, whatever its status."""
        body = {"query": query, "variables": dict(variables or {})}
        return httpx.post(self.endpoint(path), json=body, headers=headers, timeout=timeout)

    def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a GraphQL document and return the decoded JSON response (`data`, `errors`)."""
        response = self.post(query, variables, path=path, headers=headers)
        content_type = response.headers.get("content-type", "")
        json_types = ("application/json", "application/graphql-response+json")
        assert content_type.startswith(json_types), (
            f"{response.status_code} {content_type}: {response.text[:2000]}"
        )
        result: dict[str, Any] = response.json()
        result.pop("extensions", None)  # the cost report: `post` shows it
        return result

    def log(self) -> str:
        return _tail(self.log_path)


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth client registered with `hub clients add` (client_secret_basic)."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class LiveHub(GraphQLEndpoint):
    """`hub serve` in a subprocess: `url` is its origin, e.g. http://127.0.0.1:PORT.

    `env` is the environment the server runs with (same database, var dir and keys), for
    `hub …` commands against it; `district_code` is the seeded district's root grid.
    """

    database_url: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    district_code: str = ""
    pid: int = 0  # the server process, for tests that kill it
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict, compare=False)

    def subgraph_url(self, name: str) -> str:
        return f"{self.url}/subgraphs/{name}/graphql"

    def hub(self, *args: str, timeout: float = 120) -> str:
        """Run `hub ARGS…` against this server's database; its stdout (fails the test if it fails)."""
        return _run([str(HUB_BIN), *args], env=self.env, what=f"hub {args[0]}", timeout=timeout)

    def register_client(
        self, role: str, *, grid: str | None = None, scopes: Sequence[str] = ()
    ) -> ClientCredentials:
        """A new OAuth client with `role` (and `grid`, for grid-scoped roles)."""
        args = ["clients", "add", f"e2e {role} {secrets.token_hex(3)}", "--role", role, "--json"]
        if grid is not None:
            args += ["--grid", grid]
        for scope in scopes:
            args += ["--scope", scope]
        credentials = json.loads(self.hub(*args))
        return ClientCredentials(credentials["client_id"], credentials["client_secret"])

    def token(self, client: ClientCredentials, *, scope: str | None = None) -> str:
        """An access token from POST /oauth/token (client credentials grant, HTTP Basic)."""
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        auth = (client.client_id, client.client_secret)
        response = httpx.post(f"{self.url}/oauth/token", data=form, auth=auth, timeout=30)
        assert response.status_code == 200, f"/oauth/token: {response.status_code} {response.text}"
        token: str = response.json()["access_token"]
        return token

    def caller_headers(
        self, role: str, *, grid: str | None = None, purpose: str = E2E_PURPOSE
    ) -> dict[str, str]:
        """Headers of a caller with `role`: a bearer token (one client per role and grid, kept
        for the session) and an X-Request-Purpose."""
        key = (role, grid)
        if key not in self._tokens:
            self._tokens[key] = self.token(self.register_client(role, grid=grid))
        return {"Authorization": f"Bearer {self._tokens[key]}", "X-Request-Purpose": purpose}


@dataclass(frozen=True)
class Gateway(GraphQLEndpoint):
    """Hive Gateway in a subprocess, serving `supergraph_path` at `url` + /graphql."""

    supergraph_path: Path = Path()

    @property
    def supergraph_sdl(self) -> str:
        return self.supergraph_path.read_text(encoding="utf-8")


# --- processes and ports ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return text[-limit:] if text.strip() else "(no output)"


def _run(command: Sequence[str], *, env: Mapping[str, str], what: str, timeout: float) -> str:
    """Run a command to completion; its stdout. Fails the test, with the output, on failure."""
    try:
        completed = subprocess.run(
            list(command),
            env=dict(env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{what} timed out after {timeout:.0f} s: {error.stderr!r}", pytrace=False)
    if completed.returncode != 0:
        pytest.fail(
            f"{what} failed with status {completed.returncode}:\n"
            f"$ {' '.join(command)}\n{completed.stdout}\n{completed.stderr}",
            pytrace=False,
        )
    return completed.stdout


@contextlib.contextmanager
def _process(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    stdout_path: Path | None = None,
    pipe_stdin: bool = False,
    clean_exits: frozenset[int] = frozenset({0}),
) -> Iterator[subprocess.Popen[bytes]]:
    """A background process with its output in files; SIGTERM and a wait on the way out.

    Fails if a process still running at the end does not exit with one of `clean_exits` on
    SIGTERM.

    With `pipe_stdin`, the process's stdin is a pipe that closes when this process dies, which
    the gateway takes as a signal to stop (so it cannot outlive a killed test run).
    """
    with contextlib.ExitStack() as files:
        log: IO[bytes] = files.enter_context(log_path.open("wb"))
        out: IO[bytes] = files.enter_context(stdout_path.open("wb")) if stdout_path else log
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
            stdout=out,
            stderr=log,
        )
        try:
            yield process
        finally:
            was_running = process.poll() is None
            status = _stop(process)
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        # A process that died early has been reported by whoever was waiting for it.
        if was_running and status not in clean_exits:
            pytest.fail(
                f"{Path(command[0]).name} did not stop cleanly on SIGTERM (status {status}):\n"
                f"{_tail(log_path)}",
                pytrace=False,
            )


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class _PortTakenError(Exception):
    """The server lost the race for its port to another process."""


def _wait_until(
    ready: Callable[[], bool],
    *,
    process: subprocess.Popen[bytes],
    what: str,
    log_path: Path,
    timeout: float = STARTUP_TIMEOUT,
) -> None:
    """Poll `ready()` until true; fail with the process's output if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            if "address already in use" in _tail(log_path).lower():
                raise _PortTakenError
            pytest.fail(
                f"{what} exited with status {process.returncode} before it was ready:\n"
                f"{_tail(log_path)}",
                pytrace=False,
            )
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} not ready after {timeout:.0f} s; its output:\n{_tail(log_path)}",
                pytrace=False,
            )
        time.sleep(0.1)


# --- the database ------------------------------------------------------------------------------


def _hub_env(database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for `hub` commands: ours, minus any HUB_* settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATABASE_URL=database_url, HUB_ENV="dev", HUB_VAR_DIR=str(var_dir), **extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _asyncpg_dsn(sqlalchemy_url: str, database: str | None = None) -> str:
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


async def _postgres_admin(sqlalchemy_url: str, statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(sqlalchemy_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def e2e_database(directory: Path) -> Iterator[str]:
    """An empty database of the live hub's own: a SQLite file, or a fresh PostgreSQL database."""
    if not POSTGRES_URL:
        yield f"sqlite+aiosqlite:///{directory / 'hub.db'}"
        return
    name = f"e2e_{secrets.token_hex(6)}"
    asyncio.run(_postgres_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres_admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def seed_database(database_url: str, var_dir: Path, *, residents: int = SEED_RESIDENTS) -> None:
    env = _hub_env(database_url, var_dir)
    _run([str(HUB_BIN), "db", "upgrade"], env=env, what="hub db upgrade", timeout=120)
    seed = [str(HUB_BIN), "seed", "--residents", str(residents), "--seed", str(SEED)]
    output = _run([*seed, "--scale", "small", "--json"], env=env, what="hub seed", timeout=120)
    summary = json.loads(output)
    assert summary["counts"]["residents"] == residents, summary


# --- the hub -----------------------------------------------------------------------------------


async def _root_grid_codes(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.scalars(select(Grid.code).where(Grid.parent_code.is_(None)))
            return list(rows)
    finally:
        await engine.dispose()


def district_code(database_url: str) -> str:
    """The code of the seeded district (the one grid without a parent)."""
    roots = asyncio.run(_root_grid_codes(database_url))
    assert len(roots) == 1, f"expected one district grid, found {roots}"
    return roots[0]


@contextlib.contextmanager
def run_hub(
    database_url: str, directory: Path, *, district: str = "", **env: str
) -> Iterator[LiveHub]:
    """`hub serve` on a free loopback port, ready (GET /readyz == 200) when this yields.

    `env` adds HUB_* settings; the database, var dir, host, port and issuer are set here.
    """
    var_dir = directory / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        log_path = directory / f"hub-{port}.log"
        settings = {"HUB_HOST": "127.0.0.1", "HUB_PORT": str(port), "HUB_ISSUER": origin}
        hub_env = _hub_env(database_url, var_dir, **{**settings, **env})
        hub = LiveHub(
            url=origin,
            log_path=log_path,
            database_url=database_url,
            env=hub_env,
            district_code=district,
        )
        command = [str(HUB_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)]

        def ready() -> bool:
            return httpx.get(f"{hub.url}/readyz", timeout=2).status_code == 200  # noqa: B023

        # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal.
        clean = frozenset({0, -signal.SIGTERM})
        with _process(command, env=hub_env, log_path=log_path, clean_exits=clean) as process:
            try:
                _wait_until(ready, process=process, what="hub serve", log_path=log_path)
            except _PortTakenError:
                # Another process took the port between free_port() and the bind: try again.
                if attempt == 2:
                    raise
                continue
            yield dataclasses.replace(hub, pid=process.pid)
            return


@pytest.fixture(scope="session")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """The hub over HTTP, with a seeded district (60 residents, seed 7) of its own.

    Callers need a token: `live_hub.caller_headers(role, grid=…)`, or `full_view_headers`.
    """
    if not HUB_BIN.exists():
        pytest.fail(f"{HUB_BIN} not found: install the project (make install)", pytrace=False)
    directory = tmp_path_factory.mktemp("live_hub")
    with e2e_database(directory) as database_url:
        seed_database(database_url, directory / "var")
        district = district_code(database_url)
        # Tokens are fetched once per session: let them outlive a slow run.
        with run_hub(
            database_url, directory, district=district, HUB_TOKEN_TTL_SECONDS="3600"
        ) as hub:
            yield hub


@pytest.fixture(scope="session")
def full_view_headers(live_hub: LiveHub) -> dict[str, str]:
    """A caller who sees every department's data on every resident of the district."""
    return live_hub.caller_headers(FULL_VIEW_ROLE, grid=live_hub.district_code)


# --- the gateway -------------------------------------------------------------------------------


def node_or_skip() -> str:
    """The `node` executable; skip the calling test, loudly, when Node tooling is missing."""
    problem = None
    node = shutil.which("node")
    missing = [p for p in NODE_PACKAGES if not (NODE_MODULES / p / "package.json").exists()]
    if node is None:
        problem = "`node` is not on PATH (install Node.js >= 20, then `npm ci`)"
    elif missing:
        problem = f"node_modules lacks {', '.join(missing)} (run `npm ci` in {REPO_ROOT})"
    if problem is None:
        assert node is not None
        return node
    message = f"GATEWAY E2E TESTS NOT RUN: {problem}"
    if REQUIRE_GATEWAY:
        pytest.fail(f"{message}; HUB_REQUIRE_GATEWAY=1 requires them", pytrace=False)
    pytest.skip(message)


def _node_env() -> dict[str, str]:
    """A minimal environment: nothing (HIVE_*, proxies, …) can turn on reporting or a CDN."""
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["NO_COLOR"] = "1"
    return env


def compose_supergraph(node: str, subgraph_urls: Mapping[str, str], out: Path) -> Path:
    """Compose schema/sdl/<name>.graphql for every subgraph, routed to `subgraph_urls`."""
    command = [node, str(GATEWAY_DIR / "compose.mjs"), "--quiet", "--out", str(out)]
    for name, url in subgraph_urls.items():
        command += ["--subgraph", name, url, str(SDL_DIR / f"{name}.graphql")]
    _run(command, env=_node_env(), what="supergraph composition", timeout=60)
    return out


@contextlib.contextmanager
def run_gateway(node: str, subgraph_urls: Mapping[str, str], directory: Path) -> Iterator[Gateway]:
    """Compose a supergraph and serve it with Hive Gateway; answering when this yields."""
    directory.mkdir(parents=True, exist_ok=True)
    supergraph = compose_supergraph(node, subgraph_urls, directory / "supergraph.graphql")
    command = [node, str(GATEWAY_DIR / "serve.mjs"), "--supergraph", str(supergraph)]
    log_path, stdout_path = directory / "gateway.log", directory / "gateway.out"
    with _process(
        [*command, "--host", "127.0.0.1", "--port", "0"],
        env=_node_env(),
        log_path=log_path,
        stdout_path=stdout_path,
        pipe_stdin=True,
    ) as process:
        origin: list[str] = []

        def listening() -> bool:
            line = stdout_path.read_text(encoding="utf-8").partition("\n")[0]
            prefix = "listening on "
            if line.startswith(prefix) and line.endswith("/graphql"):
                origin.append(line.removeprefix(prefix).removesuffix("/graphql"))
                return True
            return False

        _wait_until(listening, process=process, what="the gateway", log_path=log_path)
        gateway = Gateway(url=origin[0], log_path=log_path, supergraph_path=supergraph)

        def answers() -> bool:
            response = gateway.post("{ __typename }", timeout=5)
            return response.status_code == 200 and response.json().get("data") == {
                "__typename": "Query"
            }

        _wait_until(answers, process=process, what="the gateway", log_path=log_path)
        yield gateway


@pytest.fixture(scope="session")
def gateway(live_hub: LiveHub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Hive Gateway over the composed supergraph, routing straight to `live_hub`'s subgraphs."""
    node = node_or_skip()
    urls = {name: live_hub.subgraph_url(name) for name in SUBGRAPHS}
    with run_gateway(node, urls, tmp_path_factory.mktemp("gateway")) as running:
        yield running


# --- a recording proxy between a gateway and the hub ---------------------------------------------


@dataclass
class SubgraphRequest:
    subgraph: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class RecordingProxy:
    """Forwards POST /subgraphs/<name>/graphql to the hub, remembering what it was sent."""

    upstream: str
    requests: list[SubgraphRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def subgraph_url(self, name: str) -> str:
        return f"{self.url}/subgraphs/{name}/graphql"

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def recorded(self) -> list[SubgraphRequest]:
        with self.lock:
            return list(self.requests)

    @contextlib.contextmanager
    def running(self) -> Iterator[RecordingProxy]:
        proxy = self
        client = httpx.Client(base_url=self.upstream, timeout=30)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                name = self.path.removeprefix("/subgraphs/").partition("/")[0]
                body = json.loads(raw) if raw else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.requests.append(SubgraphRequest(name, headers, body))
                forwarded = {
                    k: v
                    for k, v in headers.items()
                    if k not in {"host", "content-length", "connection", "accept-encoding"}
                }
                upstream = client.post(self.path, content=raw, headers=forwarded)
                self.send_response(upstream.status_code)
                self.send_header("content-type", upstream.headers.get("content-type", ""))
                self.send_header("content-length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="recording-proxy", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            client.close()


@pytest.fixture(scope="module")
def recording_proxy(live_hub: LiveHub) -> Iterator[RecordingProxy]:
    with RecordingProxy(upstream=live_hub.url).running() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def recording_gateway(
    recording_proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A second gateway whose subgraph requests pass through `recording_proxy`."""
    node = node_or_skip()
    urls = {name: recording_proxy.subgraph_url(name) for name in SUBGRAPHS}
    with run_gateway(node, urls, tmp_path_factory.mktemp("recording_gateway")) as running:
        yield running
