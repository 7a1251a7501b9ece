"""Field encryption at rest: ID and phone numbers sealed, a blind index for lookup by ID number.

Adds `field_keys` (data keys wrapped by HUB_FIELD_KEY), seals `residents.id_number` (with its
blind index `id_number_index`, unique) and `residents.phone`, `grid_members.phone` and
`quarantine.payload` batch by batch, then drops the plain columns. Rows already present need
the master key (HUB_FIELD_KEY; in dev the one generated under HUB_VAR_DIR); the first data
key is made with HUB_FIELD_SUITE. The downgrade opens every value again, restores the plain
columns with their constraints and drops the keys: nothing is lost either way.

Revision ID: 77431fb1dcc5
Revises: 5b1c7e2f9a40
Create Date: 2026-12-02 10:30:00.000000+00:00
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

import hub.storage.base
from alembic import context, op
from hub.config import Settings
from hub.crypto.columns import ID_NUMBER, MEMBER_PHONE, PHONE, open_payload, seal_payload
from hub.crypto.master import master_key
from hub.crypto.ring import KeyRing
from hub.crypto.store import new_key_row, opener, ring_of

revision: str = "77431fb1dcc5"
down_revision: str | None = "5b1c7e2f9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
STATES = ("PENDING", "CURRENT", "PREVIOUS", "RETIRED")

residents = sa.table(
    "residents",
    sa.column("id", sa.String),
    sa.column("id_number", sa.String),
    sa.column("phone", sa.String),
    sa.column("id_number_encrypted", sa.LargeBinary),
    sa.column("id_number_index", sa.LargeBinary),
    sa.column("phone_encrypted", sa.LargeBinary),
)
members = sa.table(
    "grid_members",
    sa.column("id", sa.Integer),
    sa.column("phone", sa.String),
    sa.column("phone_encrypted", sa.LargeBinary),
)
quarantine = sa.table(
    "quarantine",
    sa.column("id", sa.Integer),
    sa.column("payload", sa.JSON),
    sa.column("payload_encrypted", sa.LargeBinary),
)
field_keys = sa.table(
    "field_keys",
    sa.column("id", sa.Integer),
    sa.column("suite", sa.String),
    sa.column("state", sa.String),
    sa.column("wrapped", sa.LargeBinary),
    sa.column("created_at", hub.storage.base.UtcDateTime(timezone=True)),
    sa.column("activated_at", hub.storage.base.UtcDateTime(timezone=True)),
)


def _settings() -> Settings:
    given = context.config.attributes.get("settings")
    return given if isinstance(given, Settings) else Settings()


def _batches(table: sa.TableClause, *columns: str) -> Iterator[list[Any]]:
    """Every row of `table` (id and `columns`), in primary-key order, a batch at a time."""
    bind, after = op.get_bind(), None
    while True:
        query = sa.select(table.c.id, *(table.c[name] for name in columns)).order_by(table.c.id)
        if after is not None:
            query = query.where(table.c.id > after)
        rows = bind.execute(query.limit(BATCH)).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _update(table: sa.TableClause, values: list[dict[str, Any]]) -> None:
    if values:
        names = [name for name in values[0] if name != "row_id"]
        statement = (
            table.update()
            .where(table.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam(name) for name in names})
        )
        op.get_bind().execute(statement, values)


def _rewrite(
    table: sa.TableClause, columns: Sequence[str], change: Callable[[Any], dict[str, Any]]
) -> None:
    for rows in _batches(table, *columns):
        _update(table, [{"row_id": row.id, **change(row)} for row in rows])


def _has_rows() -> bool:
    bind = op.get_bind()
    return any(
        bind.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None
        for table in (residents, members, quarantine)
    )


def _sealing_ring() -> KeyRing:
    """The first data key (made now, with HUB_FIELD_SUITE) as a ring."""
    settings = _settings()
    master = master_key(settings)
    op.get_bind().execute(
        field_keys.insert().values(**new_key_row(master, 1, settings.field_suite, current=True))
    )
    return _stored_ring(settings)


def _stored_ring(settings: Settings) -> KeyRing:
    rows = op.get_bind().execute(sa.select(field_keys).order_by(field_keys.c.id)).all()
    return ring_of(rows, opener(master_key(settings)))


def upgrade() -> None:
    op.create_table(
        "field_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("suite", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *STATES, name="fieldkeystate", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", hub.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", hub.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_keys")),
    )
    for state in ("CURRENT", "PENDING"):
        op.create_index(
            f"uq_field_keys_{state.lower()}",
            "field_keys",
            ["state"],
            unique=True,
            sqlite_where=sa.text(f"state = '{state}'"),
            postgresql_where=sa.text(f"state = '{state}'"),
        )
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number_encrypted", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("id_number_index", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("phone_encrypted", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_encrypted", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_encrypted", sa.LargeBinary(), nullable=True))

    if _has_rows():
        _seal_everything(_sealing_ring())

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_residents_id_number"), type_="unique")
        batch_op.drop_constraint(op.f("ck_residents_id_number_length"), type_="check")
        batch_op.drop_column("id_number")
        batch_op.drop_column("phone")
        batch_op.alter_column("id_number_encrypted", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("id_number_index", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_residents_id_number_index"), ["id_number_index"])
        batch_op.create_check_constraint(
            op.f("ck_residents_id_number_sealed_length"), "length(id_number_encrypted) = 52"
        )
        batch_op.create_check_constraint(
            op.f("ck_residents_id_number_index_length"), "length(id_number_index) = 16"
        )
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.drop_column("phone")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("payload")
        batch_op.alter_column("payload_encrypted", existing_type=sa.LargeBinary(), nullable=False)


def _seal_everything(ring: KeyRing) -> None:
    _rewrite(
        residents,
        ("id_number", "phone"),
        lambda row: {
            "id_number_encrypted": ring.seal(ID_NUMBER, row.id_number),
            "id_number_index": ring.index(ID_NUMBER, row.id_number),
            "phone_encrypted": ring.seal_optional(PHONE, row.phone),
        },
    )
    _rewrite(
        members,
        ("phone",),
        lambda row: {"phone_encrypted": ring.seal_optional(MEMBER_PHONE, row.phone)},
    )
    _rewrite(
        quarantine,
        ("payload",),
        lambda row: {"payload_encrypted": seal_payload(ring, _json(row.payload))},
    )


def _json(value: Any) -> dict[str, Any]:
    import json

    parsed: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return parsed


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_number", sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))

    if _has_rows():
        _open_everything(_stored_ring(_settings()))

    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_residents_id_number_index"), type_="unique")
        batch_op.drop_constraint(op.f("ck_residents_id_number_sealed_length"), type_="check")
        batch_op.drop_constraint(op.f("ck_residents_id_number_index_length"), type_="check")
        batch_op.drop_column("id_number_encrypted")
        batch_op.drop_column("id_number_index")
        batch_op.drop_column("phone_encrypted")
        batch_op.alter_column("id_number", existing_type=sa.String(length=18), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_residents_id_number"), ["id_number"])
        batch_op.create_check_constraint(
            op.f("ck_residents_id_number_length"), "length(id_number) = 18"
        )
    with op.batch_alter_table("grid_members", schema=None) as batch_op:
        batch_op.drop_column("phone_encrypted")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("payload_encrypted")
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
    op.drop_index("uq_field_keys_pending", table_name="field_keys")
    op.drop_index("uq_field_keys_current", table_name="field_keys")
    op.drop_table("field_keys")


def _open_everything(ring: KeyRing) -> None:
    _rewrite(
        residents,
        ("id_number_encrypted", "phone_encrypted"),
        lambda row: {
            "id_number": ring.open(ID_NUMBER, row.id_number_encrypted),
            "phone": ring.open_optional(PHONE, row.phone_encrypted),
        },
    )
    _rewrite(
        members,
        ("phone_encrypted",),
        lambda row: {"phone": ring.open_optional(MEMBER_PHONE, row.phone_encrypted)},
    )
    _rewrite(
        quarantine,
        ("payload_encrypted",),
        lambda row: {"payload": open_payload(ring, row.payload_encrypted)},
    )
