"""`hub clients …` and `hub keys …`: register OAuth clients and rotate signing keys.

Both read `Settings()` from the `HUB_*` environment. The clients commands migrate the database
to head first (`hub db upgrade`, idempotent and never destructive), as `hub seed` does. Results
go to stdout (with `--json`, exactly one JSON document and nothing else); messages go to
stderr. Exit status 0 on success, 1 with a one-line reason on failure.

Registered in `hub.cli` with `app.add_typer(clients_app, name="clients")` and
`app.add_typer(keys_app, name="keys")`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.auth import blocks, clients
from hub.auth.blocks import BlockError
from hub.auth.client_secrets import ClientSecretHasher, ClientSecretKeyError
from hub.auth.clients import ClientAuthMethod, ClientError
from hub.auth.keys import Algorithm, KeyStore, KeyStoreError, SigningKey
from hub.auth.policy import Policy, PolicyError, load_policy
from hub.cli_support import one_line_errors, print_json, run_with_engine, settings_from_environment
from hub.config import Settings
from hub.crypto.cli import field_keys_command, rotate_field_key_command
from hub.storage import migrations
from hub.storage.models import OAuthClient
from hub.storage.session import create_sessionmaker

T = TypeVar("T")

clients_app = typer.Typer(help="OAuth clients: machine callers of the hub.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Token signing keys, and the field keys that seal ID and phone numbers.",
    no_args_is_help=True,
)

messages = Console(stderr=True, highlight=False, soft_wrap=True)
results = Console(highlight=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _with_session(settings: Settings, work: Callable[[AsyncSession, Policy], Awaitable[T]]) -> T:
    """Migrate, then run `work` in one committed transaction."""
    policy = load_policy(settings.policy)
    migrations.upgrade(settings.database_url, settings=settings)

    async def run(engine: AsyncEngine) -> T:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session, policy)

    return run_with_engine(settings, run)


# --- clients ---------------------------------------------------------------------------------


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="What the client is, e.g. 'health bureau sync'.")],
    role: Annotated[str, typer.Option("--role", help="Role from the policy, e.g. grid_worker.")],
    grid: Annotated[
        str | None, typer.Option("--grid", help="Grid code; required for grid-scoped roles.")
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Narrow the role's scopes (repeatable)."),
    ] = None,
    auth_method: Annotated[
        ClientAuthMethod, typer.Option("--auth-method", help="Token endpoint authentication.")
    ] = ClientAuthMethod.client_secret_basic,
    jwks: Annotated[
        Path | None,
        typer.Option(
            "--jwks", help="JWK Set file of public keys (private_key_jwt).", dir_okay=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client and print its id and secret (the secret is shown only this once)."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError, ClientSecretKeyError):
        key_set = _read_jwks(jwks) if jwks is not None else None
        settings = settings_from_environment()
        hasher = ClientSecretHasher.from_settings(settings)

        async def add(session: AsyncSession, policy: Policy) -> tuple[OAuthClient, str | None]:
            return await clients.register_client(
                session,
                name=name,
                role=role,
                grid_code=grid,
                scopes=scope,
                auth_method=auth_method,
                jwks=key_set,
                policy=policy,
                hasher=hasher,
            )

        client, secret = _with_session(settings, add)
    _print_credentials(client.client_id, secret, as_json=as_json)


@clients_app.command("list")
def clients_list(as_json: JsonOption = False) -> None:
    """List registered clients, revoked ones included."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError):

        async def load(session: AsyncSession, policy: Policy) -> list[dict[str, Any]]:
            return [_describe(client, policy) for client in await clients.list_clients(session)]

        rows = _with_session(settings_from_environment(), load)
    if as_json:
        print_json(rows)
        return
    table = Table("client id", "name", "role", "grid", "scopes", "auth method", "status")
    for row in rows:
        status = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        table.add_row(
            row["client_id"],
            row["name"],
            row["role"],
            row["grid"] or "",
            " ".join(row["scopes"]),
            row["auth_method"],
            status,
        )
    results.print(table)


@clients_app.command("revoke")
def clients_revoke(client_id: Annotated[str, typer.Argument(help="The client to revoke.")]) -> None:
    """Revoke a client: no new tokens, and its outstanding tokens are refused at once."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError):

        async def revoke(session: AsyncSession, _: Policy) -> OAuthClient:
            return await clients.revoke_client(session, client_id=client_id)

        client = _with_session(settings_from_environment(), revoke)
    messages.print(f"revoked {client.client_id} ({client.name})")


@clients_app.command("rotate-secret")
def clients_rotate_secret(
    client_id: Annotated[str, typer.Argument(help="The client whose secret to replace.")],
    as_json: JsonOption = False,
) -> None:
    """Replace a client's secret and print the new one (shown only this once)."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError, ClientSecretKeyError):
        settings = settings_from_environment()
        hasher = ClientSecretHasher.from_settings(settings)

        async def rotate(session: AsyncSession, _: Policy) -> tuple[OAuthClient, str]:
            return await clients.rotate_secret(session, client_id=client_id, hasher=hasher)

        client, secret = _with_session(settings, rotate)
    _print_credentials(client.client_id, secret, as_json=as_json)


IssuerOption = Annotated[
    str, typer.Option("--issuer", help="The issuer (`iss`) of the client's tokens.")
]


@clients_app.command("block")
def clients_block(
    client_id: Annotated[str, typer.Argument(help="The client id its tokens carry.")],
    issuer: IssuerOption,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
) -> None:
    """Refuse every token of an outside issuer's client (within the revocation refresh bound)."""
    with one_line_errors(BlockError, KeyStoreError, PolicyError):

        async def block(session: AsyncSession, _: Policy) -> None:
            await blocks.block_client(session, issuer=issuer, client_id=client_id, reason=reason)

        _with_session(settings_from_environment(), block)
    messages.print(f"blocked {client_id} of {issuer}")


@clients_app.command("unblock")
def clients_unblock(
    client_id: Annotated[str, typer.Argument(help="The blocked client id.")],
    issuer: IssuerOption,
) -> None:
    """Accept an outside issuer's client again."""
    with one_line_errors(BlockError, KeyStoreError, PolicyError):

        async def unblock(session: AsyncSession, _: Policy) -> None:
            await blocks.unblock_client(session, issuer=issuer, client_id=client_id)

        _with_session(settings_from_environment(), unblock)
    messages.print(f"unblocked {client_id} of {issuer}")


@clients_app.command("blocked")
def clients_blocked(as_json: JsonOption = False) -> None:
    """List blocked clients, by issuer."""
    with one_line_errors(BlockError, KeyStoreError, PolicyError):

        async def load(session: AsyncSession, _: Policy) -> list[dict[str, Any]]:
            return [
                {
                    "issuer": b.issuer,
                    "client_id": b.client_id,
                    "reason": b.reason,
                    "blocked_at": b.blocked_at,
                }
                for b in await blocks.blocked_clients(session)
            ]

        rows = _with_session(settings_from_environment(), load)
    if as_json:
        print_json(rows)
        return
    table = Table("issuer", "client id", "blocked", "reason")
    for row in rows:
        table.add_row(
            row["issuer"], row["client_id"], f"{row['blocked_at']:%Y-%m-%d}", row["reason"] or ""
        )
    results.print(table)


def _read_jwks(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ClientError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ClientError(f"{path} must hold a JWK Set object")
    return document


def _print_credentials(client_id: str, secret: str | None, *, as_json: bool) -> None:
    if as_json:
        print_json({"client_id": client_id, "client_secret": secret})
        return
    typer.echo(f"client_id: {client_id}")
    if secret is not None:
        typer.echo(f"client_secret: {secret}")
        messages.print("store the secret now: it is not shown again")


def _describe(client: OAuthClient, policy: Policy) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "role": client.role,
        "grid": client.grid_code,
        "scopes": sorted(clients.effective_scopes(client, policy)),
        "auth_method": client.token_endpoint_auth_method,
        "created_at": client.created_at,
        "secret_rotated_at": client.secret_rotated_at,
        "revoked_at": client.revoked_at,
    }


# --- keys ------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="ES256 (P-256) or RS256 (RSA 2048).")
    ] = "ES256",
    as_json: JsonOption = False,
) -> None:
    """Add a signing key that signs from now on; prune keys whose tokens have all expired."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError):
        chosen = _algorithm(algorithm)
        store = KeyStore.from_settings(settings_from_environment())
        key = store.rotate(chosen)
        pruned = store.prune()
    if as_json:
        print_json({**_key_summary(key, store.now()), "pruned": pruned})
        return
    typer.echo(f"signing key {key.kid} ({key.algorithm}) in {key.path}")
    for kid in pruned:
        messages.print(f"pruned expired key {kid}")


@keys_app.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List signing keys: the signer, keys still verifying, and expired ones."""
    with one_line_errors(ClientError, KeyStoreError, PolicyError):
        store = KeyStore.from_settings(settings_from_environment())
        now = store.now()
        summaries = [_key_summary(key, now) for key in reversed(store.list_keys())]
    if as_json:
        print_json(summaries)
        return
    table = Table("kid", "alg", "created", "status", "published until")
    for row in summaries:
        until = row["expires_at"] or ""
        table.add_row(row["kid"], row["alg"], str(row["created_at"]), row["status"], str(until))
    results.print(table)


def _algorithm(value: str) -> Algorithm:
    if value == "ES256":
        return "ES256"
    if value == "RS256":
        return "RS256"
    raise ValueError(f"unsupported algorithm {value!r}; use ES256 or RS256")


def _key_summary(key: SigningKey, now: datetime) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.algorithm,
        "created_at": key.created_at.isoformat(),
        "status": key.status(now),
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "path": str(key.path),
    }


keys_app.command("rotate-field-key")(rotate_field_key_command)
keys_app.command("field-keys")(field_keys_command)
