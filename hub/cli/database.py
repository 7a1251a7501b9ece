"""Which database a command uses: said on a header line, checked before a read-only command.

`hub` prints `database: URL (file)` on stderr before a command that uses the database when
stderr is a terminal or `--verbose` was given (scripts reading stderr see only their
results). A command that only reads (`READ_ONLY`) refuses to run against a SQLite file that
does not exist — it would otherwise create an empty database and report on nothing — and
says where it looked and how to point it elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from hub.config import Settings

# Commands (first word, second word) that never need the database.
NO_DATABASE = frozenset({("schema", "export"), ("connectors", "check"), ("keys", "rotate")})
# Commands that leave the database alone when given this option (verify an export offline).
OFFLINE_WITH = {("audit", "verify"): "--export"}
# Commands that only read: they must find an existing database.
READ_ONLY = frozenset(
    {
        ("clients", "list"),
        ("users", "list"),
        ("audit", "verify"),
        ("audit", "export"),
        ("audit", "checkpoints"),
        ("connectors", "list"),
        ("connectors", "status"),
        ("quarantine", "list"),
    }
)


class MissingDatabaseError(Exception):
    """A read-only command pointed at a database that is not there."""


def describe(url: URL) -> str:
    text = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return f"{text} ({Path(url.database).resolve()})"
    return text


def check(words: tuple[str, str], *, verbose: bool, options: frozenset[str] = frozenset()) -> None:
    """Announce the database and refuse a read-only command on a missing SQLite file."""
    if words in NO_DATABASE or words[0] in ("serve", "demo"):
        return  # serve and demo announce their own URLs
    if OFFLINE_WITH.get(words) in options:
        return
    url = make_url(Settings().database_url)
    if verbose or sys.stderr.isatty():
        print(f"database: {describe(url)}", file=sys.stderr)
    if words not in READ_ONLY or url.get_backend_name() != "sqlite":
        return
    if url.database in (None, "", ":memory:") or Path(url.database).exists():
        return
    raise MissingDatabaseError(
        f"no database at {Path(url.database).resolve()}: run from the directory that holds "
        "var/hub.db, set HUB_DATABASE_URL (the demo leaves var/demo.env to source), "
        "or create one with `hub db upgrade`"
    )
