"""A throwaway PostgreSQL cluster for the PostgreSQL half of the test suite.

`throwaway_cluster()` initialises a fresh cluster in a temporary directory, starts it on a
free loopback port and yields an asyncpg SQLAlchemy URL for it; the cluster is stopped and
the directory removed on the way out, whatever happens (exceptions, Ctrl-C, SIGTERM in the
script form).  The server is tuned for speed, not durability: fsync, synchronous_commit and
full_page_writes are off.

PostgreSQL refuses to run as root, so when this process is root every PostgreSQL binary runs
as the unprivileged `postgres` user (or `nobody` when that user does not exist; no user is
ever created), through `runuser` or `setpriv`, and the temporary directory is handed to it.

Script form (run it by path, `tests` is not a package)::

    python tests/pgcluster.py -- CMD ARGS...

starts a cluster, runs CMD with `HUB_TEST_DATABASE_URL` set, stops the cluster and exits
with CMD's status.  Without PostgreSQL binaries it prints a loud warning and exits 0 without
running CMD, unless `HUB_REQUIRE_POSTGRES=1`, in which case it exits 1.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import FrameType

__all__ = [
    "PostgresNotFoundError",
    "ThrowawayServer",
    "main",
    "throwaway_cluster",
    "throwaway_server",
]

URL_ENV = "HUB_TEST_DATABASE_URL"
REQUIRE_ENV = "HUB_REQUIRE_POSTGRES"
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_START_ATTEMPTS = 3
_TIMEOUT_SECONDS = 60


class PostgresNotFoundError(RuntimeError):
    """No usable PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine."""


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created or started."""


@dataclass(frozen=True)
class _RunAs:
    """How to run PostgreSQL binaries: directly, or as an unprivileged user when root."""

    prefix: tuple[str, ...]
    uid: int | None = None
    gid: int | None = None


def find_bindir() -> Path:
    """The PostgreSQL `bin` directory: from PATH, else the highest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        # Resolve symlinks (e.g. /usr/local/bin -> /usr/lib/postgresql/15/bin) so that all
        # three binaries come from the same installation.
        candidate = Path(on_path).resolve().parent
        if _has_binaries(candidate):
            return candidate
        if all(shutil.which(name) for name in _REQUIRED_BINARIES):
            return Path(on_path).parent
    installed = [
        path / "bin"
        for path in Path("/usr/lib/postgresql").glob("*")
        if _has_binaries(path / "bin")
    ]
    if installed:
        return max(installed, key=lambda bindir: _version_key(bindir.parent.name))
    raise PostgresNotFoundError(
        "PostgreSQL binaries (initdb, pg_ctl, postgres) are neither on PATH "
        "nor under /usr/lib/postgresql/*/bin"
    )


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> _RunAs:
    """Run directly unless root; as root, drop to `postgres` (or `nobody`)."""
    if os.geteuid() != 0:
        return _RunAs(prefix=())
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser is not None:
            return _RunAs((runuser, "-u", name, "--"), entry.pw_uid, entry.pw_gid)
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            prefix = (
                setpriv,
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--clear-groups",
                "--",
            )
            return _RunAs(prefix, entry.pw_uid, entry.pw_gid)
        raise ClusterError("running as root, but neither runuser nor setpriv is available")
    raise ClusterError("running as root, but neither a 'postgres' nor a 'nobody' user exists")


def _pg_env(home: Path) -> dict[str, str]:
    """The environment for PostgreSQL binaries: ours, minus libpq/PG* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["HOME"] = str(home)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])


class _Cluster:
    def __init__(self, bindir: Path, run_as: _RunAs, root: Path) -> None:
        self.bindir = bindir
        self.run_as = run_as
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.env = _pg_env(root)

    def run(self, binary: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as.prefix, str(self.bindir / binary), *args]
        return subprocess.run(
            command,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=_TIMEOUT_SECONDS * 2,
        )

    def initdb(self) -> None:
        common = ("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        result = self.run("initdb", *common, "--locale=C.UTF-8")
        if result.returncode != 0:
            # Not every libc has C.UTF-8; fall back to the plain C locale.
            shutil.rmtree(self.data, ignore_errors=True)
            result = self.run("initdb", *common, "--no-locale")
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def start(self, port: int) -> bool:
        options = [f"-p {port}", f"-k {self.root}"]
        options += [f"-c {key}={value}" for key, value in SERVER_SETTINGS.items()]
        result = self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(_TIMEOUT_SECONDS),
            "-o",
            " ".join(options),
            "start",
        )
        return result.returncode == 0

    def running(self) -> bool:
        return self.run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def stop(self) -> None:
        if not self.data.exists():
            return
        for mode in ("fast", "immediate"):
            if not self.running():
                return
            self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        if self.running():
            print(f"pgcluster: could not stop the server in {self.data}", file=sys.stderr)


@contextmanager
def _shielded_from_sigint() -> Iterator[None]:
    """Ignore Ctrl-C while cleaning up, so that a second one cannot leak the cluster."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class ThrowawayServer:
    """A running throwaway cluster that a test may stop and start again (an outage)."""

    url: str
    port: int
    _cluster: _Cluster

    def stop(self) -> None:
        """Stop the server now (fast mode: open connections are cut)."""
        self._cluster.run("pg_ctl", "-D", str(self._cluster.data), "-m", "fast", "-w", "stop")

    def start(self) -> None:
        """Start it again on the same port."""
        if not self._cluster.start(self.port):
            raise ClusterError(f"PostgreSQL did not restart:\n{_tail(self._cluster.log)}")


@contextmanager
def throwaway_server() -> Iterator[ThrowawayServer]:
    """Like `throwaway_cluster`, yielding a handle that can stop and start the server."""
    with _throwaway() as (cluster, port):
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        yield ThrowawayServer(url, port, cluster)


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a fresh PostgreSQL cluster; yield its `postgresql+asyncpg://` URL.

    Raises `PostgresNotFoundError` when no PostgreSQL binaries exist and `ClusterError` when
    the cluster cannot be created or started.  The cluster is always stopped and its
    directory removed afterwards.
    """
    with _throwaway() as (_, port):
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"


@contextmanager
def _throwaway() -> Iterator[tuple[_Cluster, int]]:
    bindir = find_bindir()
    run_as = _run_as()
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    cluster = _Cluster(bindir, run_as, root)
    try:
        if run_as.uid is not None and run_as.gid is not None:
            os.chown(root, run_as.uid, run_as.gid)
        cluster.initdb()
        for _attempt in range(_START_ATTEMPTS):
            port = free_port()
            if cluster.start(port):
                break
            # Most likely someone grabbed the port in between; try another one.
            cluster.stop()
        else:
            raise ClusterError(f"PostgreSQL did not start; server log:\n{_tail(cluster.log)}")
        yield cluster, port
    finally:
        with _shielded_from_sigint():
            try:
                cluster.stop()
            finally:
                shutil.rmtree(root, ignore_errors=True)


_NOT_FOUND_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  WARNING: PostgreSQL binaries not found: the PostgreSQL half of the suite
!!  was SKIPPED.
!!  {detail}
!!  Install the PostgreSQL server (initdb, pg_ctl, postgres).
!!  {consequence}
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def _raise_system_exit(signum: int, _frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Sequence[str] | None = None) -> int:
    """`pgcluster.py -- CMD ARGS...`: run CMD against a throwaway cluster; CMD's status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python tests/pgcluster.py -- CMD [ARGS...]", file=sys.stderr)
        return 2
    # Turn SIGTERM (CI cancellation) into SystemExit so that the cluster is cleaned up.
    signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        with throwaway_cluster() as url:
            print(f"pgcluster: PostgreSQL is up at {url}", file=sys.stderr, flush=True)
            env = {**os.environ, URL_ENV: url}
            try:
                process = subprocess.run(args, env=env, check=False)
            except OSError as error:
                print(f"pgcluster: cannot run {args[0]!r}: {error}", file=sys.stderr)
                return 127
            return _exit_status(process.returncode)
    except PostgresNotFoundError as error:
        required = os.environ.get(REQUIRE_ENV) == "1"
        consequence = (
            f"{REQUIRE_ENV}=1 is set, so this is an ERROR (exit status 1)."
            if required
            else f"Exiting 0 anyway; set {REQUIRE_ENV}=1 to make this an error."
        )
        sys.stderr.write(_NOT_FOUND_WARNING.format(detail=error, consequence=consequence))
        return 1 if required else 0
    except ClusterError as error:
        print(f"pgcluster: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
