"""What `hub demo` leaves behind for people and for the next command.

`<var>/demo/README.md` (and `<var>/demo/<port>/README.md`): the consoles, one staff account
per role with its password, and per role an OAuth client with a query that role can run on a
real resident. `<var>/demo.env` (and `<var>/demo/<port>.env`), mode 0600: the variables that
make `hub sync`, `hub connectors list`, `hub audit verify` … work against the running demo
(`set -a; . var/demo.env; set +a`).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.demo.credentials import DemoAccount, DemoClient

CONSOLES = ("/console/counter", "/console/grid", "/console/audit", "/console/admin")


def absolute_database_url(url: str) -> str:
    """A SQLite URL with an absolute path, so the env file works from any directory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return parsed.render_as_string(hide_password=False)


def write_env(path: Path, variables: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(variables.items()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# written by `hub demo`: set -a; . var/demo.env; set +a\n" + text)


def guide(
    base_url: str, clients: Sequence[DemoClient], accounts: Sequence[DemoAccount], env_file: Path
) -> str:
    """The demo's README: consoles and accounts first, then a query per role."""
    lines = [
        "# GridHub demo",
        "",
        f"Landing page: {base_url}/ · GraphiQL: {base_url}/graphql",
        f"Consoles: {', '.join(base_url + path for path in CONSOLES)}",
        "",
        "## Staff accounts (sign in at the consoles)",
        "",
        "| account | role | grid | password |",
        "|---|---|---|---|",
        *(f"| {a.name} | {a.role} | {a.grid_code or ''} | {a.password} |" for a in accounts),
        "",
        f"Commands against this demo: `set -a; . {env_file}; set +a`, then `hub sync`,",
        "`hub connectors status`, `hub quarantine list`, `hub audit verify` …",
        "",
        "## One query per role (OAuth client credentials)",
    ]
    for client in clients:
        sample = f" — sample ID number {client.id_number}" if client.id_number else ""
        lines += [
            "",
            f"### {client.role}{sample}",
            "",
            f"client_id `{client.client_id}`, secret `{client.client_secret}`"
            + (f", grid {client.grid_code}" if client.grid_code else "")
            + f", purpose {client.purpose}",
            "",
            "```sh",
            client.curl(base_url),
            "```",
        ]
    return "\n".join(lines) + "\n"
