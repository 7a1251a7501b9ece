"""`hub users add|list|disable|reset-password`: staff accounts, people who sign in to the consoles.

Passwords are typed twice at a prompt (never echoed) or read from the first line of
`--password-file`; stored as argon2id hashes. Disabling an account or resetting its password
ends its sessions and revokes the access tokens they held.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.auth import sessions, users
from hub.auth.clients import default_password_hasher
from hub.auth.passwords import PasswordError, check_password, read_password_file
from hub.auth.policy import Policy, PolicyError, load_policy
from hub.auth.users import UserError
from hub.cli_support import (
    CommandError,
    one_line_errors,
    print_json,
    run_with_engine,
    settings_from_environment,
)
from hub.config import Settings
from hub.storage import migrations
from hub.storage.models import StaffUser
from hub.storage.session import create_sessionmaker

T = TypeVar("T")

app = typer.Typer(help="Staff accounts: people who sign in to the consoles.", no_args_is_help=True)
messages = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file", help="Read the password from this file's first line.", dir_okay=False
    ),
]
EXPECTED = (UserError, PasswordError, PolicyError)


def _with_session(
    settings: Settings, work: Callable[[AsyncSession, Policy], Awaitable[T]], *, write: bool
) -> T:
    """Run `work` in one committed transaction (migrating first when it writes)."""
    policy = load_policy(settings.policy)
    if write:
        migrations.upgrade(settings.database_url)

    async def run(engine: AsyncEngine) -> T:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session, policy)

    return run_with_engine(settings, run)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        return check_password(read_password_file(password_file))
    if not _interactive():
        raise CommandError("no terminal to type a password at: pass --password-file FILE")
    first = typer.prompt("password", hide_input=True)
    check_password(first)
    if typer.prompt("again", hide_input=True) != first:
        raise CommandError("the two passwords differ; nothing changed")
    return str(first)


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()


@app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name, e.g. wang.fang.")],
    role: Annotated[str, typer.Option("--role", help="Role from the policy, e.g. grid_worker.")],
    grid: Annotated[
        str | None, typer.Option("--grid", help="Grid code; required for grid-scoped roles.")
    ] = None,
    password_file: PasswordFile = None,
    as_json: JsonOption = False,
) -> None:
    """Add a staff account (the password is asked for twice, or read from --password-file)."""
    with one_line_errors(*EXPECTED):
        settings = settings_from_environment()
        password = _password(password_file)
        hasher = default_password_hasher()

        async def add(session: AsyncSession, policy: Policy) -> dict[str, Any]:
            user = await users.add_user(
                session, name=name, role=role, grid_code=grid, password=password,
                policy=policy, hasher=hasher,
            )  # fmt: skip
            return _describe(user)

        row = _with_session(settings, add, write=True)
    if as_json:
        print_json(row)
    else:
        messages.print(f"added {row['name']} ({row['role']}{_grid(row)})")


@app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """List staff accounts, disabled ones included."""
    with one_line_errors(*EXPECTED):
        settings = settings_from_environment()

        async def load(session: AsyncSession, _: Policy) -> list[dict[str, Any]]:
            return [_describe(user) for user in await users.list_users(session)]

        rows = _with_session(settings, load, write=False)
    if as_json:
        print_json(rows)
        return
    table = Table("name", "role", "grid", "last sign-in", "status")
    for row in rows:
        table.add_row(
            row["name"], row["role"], row["grid"] or "", row["last_login_at"] or "", row["status"]
        )
    Console(highlight=False).print(table)


@app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The account's sign-in name.")]) -> None:
    """Stop an account: no more sign-ins; its sessions end and their tokens are revoked."""
    with one_line_errors(*EXPECTED):
        settings = settings_from_environment()

        async def disable(session: AsyncSession, _: Policy) -> int:
            user = await users.disable_user(session, name=name)
            return await sessions.end_user_sessions(session, user=user)

        ended = _with_session(settings, disable, write=False)
    messages.print(f"disabled {name}; {ended} session(s) ended")


@app.command("reset-password")
def users_reset_password(
    name: Annotated[str, typer.Argument(help="The account's sign-in name.")],
    password_file: PasswordFile = None,
) -> None:
    """Set a new password and unlock the account; its sessions end."""
    with one_line_errors(*EXPECTED):
        settings = settings_from_environment()
        password = _password(password_file)
        hasher = default_password_hasher()

        async def reset(session: AsyncSession, _: Policy) -> int:
            user = await users.reset_password(session, name=name, password=password, hasher=hasher)
            return await sessions.end_user_sessions(session, user=user)

        ended = _with_session(settings, reset, write=False)
    messages.print(f"password of {name} changed; {ended} session(s) ended")


def _describe(user: StaffUser) -> dict[str, Any]:
    status = "disabled" if user.disabled_at else "locked" if _locked(user) else "active"
    return {
        "name": user.name,
        "role": user.role,
        "grid": user.grid_code,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "status": status,
    }


def _locked(user: StaffUser) -> bool:
    from hub.storage.base import utcnow

    return user.locked_until is not None and user.locked_until > utcnow()


def _grid(row: dict[str, Any]) -> str:
    return f", grid {row['grid']}" if row["grid"] else ""
