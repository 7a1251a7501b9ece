"""The `hub` command line: one module per command group, each imported only when it runs.

`hub --help` must answer at once, so this module imports typer and nothing of the hub:
`COMMANDS` names each command's module and its one-line help. The group lists them from
that table; the module of a command is imported when the command is invoked (or asked for
its own `--help`). Adding a command: a module with a Typer `app`, and one line here.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

# name → ("module:attribute" of a typer.Typer, one-line help shown by `hub --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("hub.cli.serve:app", "Serve the hub over HTTP (GraphQL, subgraphs, health checks)."),
    "db": ("hub.cli.db:app", "Database migrations."),
    "seed": ("hub.cli.seed:app", "Generate a synthetic district straight into the database."),
    "demo": ("hub.cli.demo:app", "Start the department simulators, sync them, serve with GraphiQL."),
    "sync": ("hub.cli.sync:app", "Pull new and changed records from department systems."),
    "connectors": ("hub.cli.connectors:app", "Configured connectors: list, status, check."),
    "quarantine": ("hub.cli.quarantine:app", "Records the connectors could not accept."),
    "clients": ("hub.auth.cli:clients_app", "OAuth clients: machine callers of the hub."),
    "users": ("hub.cli.users:app", "Staff accounts: people who sign in to the consoles."),
    "keys": ("hub.auth.cli:keys_app", "Token signing keys and field encryption keys."),
    "audit": ("hub.audit.cli:audit_app", "The tamper-evident audit trail."),
    "schema": ("hub.cli.schema:app", "The GraphQL schema."),
}  # fmt: skip


class LazyGroup(TyperGroup):
    """Lists COMMANDS from the table; imports a command's module only to run it.

    (Contexts and commands are typed Any: typer vendors its own click, whose module is private.)
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The loaded command, else a stand-in carrying its help (what `hub --help` shows)."""
        if (command := super().get_command(ctx, cmd_name)) is not None:
            return command
        if cmd_name not in COMMANDS:
            return None
        help_text = COMMANDS[cmd_name][1]
        return TyperCommand(cmd_name, help=help_text, short_help=help_text)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS and args[0] not in self.commands:
            self.add_command(load(args[0]), args[0])
        if args and args[0] in COMMANDS and not _HELP.intersection(args):
            from hub.cli.database import check

            words = [a for a in args if not a.startswith("-")]
            options = frozenset(a.split("=", 1)[0] for a in args if a.startswith("--"))
            pair = (words[0], words[1] if len(words) > 1 else "")
            check(pair, verbose=_verbose(ctx), options=options)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """Every failure is one line on stderr and exit status 1, never a traceback."""
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as error:
            if type(error).__module__.startswith(("click", "typer")):
                raise  # usage errors: click prints them with the usage line
            lines = str(error).strip().splitlines() or [type(error).__name__]
            print(f"error: {lines[0]}", file=sys.stderr)
            raise SystemExit(1) from None


def load(name: str) -> Any:
    """The click command of COMMANDS[name], its module imported now."""
    module_name, attribute = COMMANDS[name][0].split(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    command = typer.main.get_command(target)
    command.name = name
    # shell completion belongs to `hub` itself, not to each command built on its own
    command.params = [p for p in command.params if p.name not in _COMPLETION]
    return command


_COMPLETION = ("install_completion", "show_completion")
_HELP = frozenset({"--help", "-h"})


def _verbose(ctx: Any) -> bool:
    return bool(ctx.params.get("verbose"))


# rich_markup_mode=None: plain help here, so `hub --help` needs no rich (a third of its time)
app = typer.Typer(cls=LazyGroup, no_args_is_help=True, rich_markup_mode=None)


@app.callback()
def hub(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say which database the command uses.")
    ] = False,
) -> None:
    """GridHub: cross-department data sharing for grid-based governance."""
