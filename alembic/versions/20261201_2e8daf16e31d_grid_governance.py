"""Grid governance: cases and their traces, assignments, visits, patrols, joint meetings,
idempotency keys.

Revision ID: 2e8daf16e31d
Revises: 5b0e3c9a7d21
Create Date: 2026-12-01 03:48:13.443940+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import hub.storage.base
from alembic import op

revision: str = "2e8daf16e31d"
down_revision: str | None = "5b0e3c9a7d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("caller", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "CITY_MANAGEMENT",
                "STABILITY",
                "WORK_SAFETY",
                "LIVELIHOOD",
                "SOCIAL_SERVICES",
                "PARTY_BUILDING",
                name="casecategory",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "subtype",
            sa.Enum(
                "ILLEGAL_CONSTRUCTION",
                "SANITATION",
                "ROAD_FACILITIES",
                "STREET_OCCUPATION",
                "ILLEGAL_PARKING",
                "GREENERY",
                "NEIGHBOUR_DISPUTE",
                "FAMILY_DISPUTE",
                "LABOUR_DISPUTE",
                "PROPERTY_MANAGEMENT_DISPUTE",
                "KEY_PERSON",
                "PUBLIC_ORDER",
                "FIRE_HAZARD",
                "GAS_SAFETY",
                "EBIKE_CHARGING",
                "CONSTRUCTION_SITE",
                "HAZARDOUS_GOODS",
                "FOOD_SAFETY",
                "UTILITIES",
                "HOUSING_REPAIR",
                "ELEVATOR",
                "NOISE",
                "EMPLOYMENT",
                "WAGE_ARREARS",
                "ELDERLY_CARE",
                "DISABILITY_SUPPORT",
                "SOCIAL_ASSISTANCE",
                "CHILD_CARE",
                "HEALTH_SERVICE",
                "PAPERWORK",
                "PARTY_MEMBER_SERVICE",
                "PARTY_ORGANISATION",
                "VOLUNTEER_SERVICE",
                "CONSULTATION",
                name="casesubtype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("group_appeal", sa.Boolean(), nullable=False),
        sa.Column("petition_beyond_district", sa.Boolean(), nullable=False),
        sa.Column("mass_incident", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column(
            "grid_path",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("holding_grid_code", sa.String(length=32), nullable=False),
        sa.Column(
            "holding_grid_path",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "holding_level",
            sa.Enum(
                "DISTRICT",
                "STREET",
                "COMMUNITY",
                "BUILDING",
                name="gridlevel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "REPORTED",
                "ACCEPTED",
                "ESCALATED",
                "ASSIGNED",
                "RESOLVED",
                "VERIFIED",
                "CLOSED",
                "REOPENED",
                name="casestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("state_since", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", hub.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "satisfaction",
            sa.Enum(
                "SATISFIED",
                "BASICALLY_SATISFIED",
                "DISSATISFIED",
                name="satisfaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "GRID",
                "VISIT",
                "PATROL",
                "SERVICE_CENTER",
                "DISPATCHER",
                "HOTLINE",
                name="casesource",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source_record_id", sa.String(length=128), nullable=True),
        sa.Column("reported_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=255), nullable=False),
        sa.Column("reporter_role", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_code"], ["grids.code"], name=op.f("fk_cases_grid_code_grids")
        ),
        sa.ForeignKeyConstraint(
            ["holding_grid_code"], ["grids.code"], name=op.f("fk_cases_holding_grid_code_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint(
            "source", "source_record_id", name=op.f("uq_cases_source_source_record_id")
        ),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_due_at", ["due_at"], unique=False)
        batch_op.create_index(
            "ix_cases_grid_code_reported_at", ["grid_code", "reported_at"], unique=False
        )
        batch_op.create_index("ix_cases_grid_path_state", ["grid_path", "state"], unique=False)
        batch_op.create_index(
            "ix_cases_holding_grid_path_state", ["holding_grid_path", "state"], unique=False
        )
        batch_op.create_index("ix_cases_reported_at", ["reported_at"], unique=False)

    op.create_table(
        "joint_meetings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column(
            "grid_path",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("held_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_code"], ["grids.code"], name=op.f("fk_joint_meetings_grid_code_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_meetings")),
    )
    with op.batch_alter_table("joint_meetings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_joint_meetings_grid_code_held_on", ["grid_code", "held_on"], unique=False
        )
        batch_op.create_index(
            "ix_joint_meetings_grid_path_held_on", ["grid_path", "held_on"], unique=False
        )

    op.create_table(
        "patrols",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column(
            "grid_path",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("walker", sa.String(length=255), nullable=False),
        sa.Column("walker_name", sa.String(length=64), nullable=True),
        sa.Column("started_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("route_notes", sa.Text(), nullable=True),
        sa.Column("recorded_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ended_at >= started_at", name=op.f("ck_patrols_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["grid_code"], ["grids.code"], name=op.f("fk_patrols_grid_code_grids")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
    )
    with op.batch_alter_table("patrols", schema=None) as batch_op:
        batch_op.create_index("ix_patrols_day", ["day"], unique=False)
        batch_op.create_index("ix_patrols_grid_code_day", ["grid_code", "day"], unique=False)

    op.create_table(
        "case_households",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_households_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_case_households_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "household_id", name=op.f("pk_case_households")),
    )
    with op.batch_alter_table("case_households", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_households_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "case_traces",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "REPORT",
                "ACCEPT",
                "ESCALATE",
                "ASSIGN",
                "RESOLVE",
                "VERIFY",
                "CLOSE",
                "REOPEN",
                name="caseaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_state",
            sa.Enum(
                "REPORTED",
                "ACCEPTED",
                "ESCALATED",
                "ASSIGNED",
                "RESOLVED",
                "VERIFIED",
                "CLOSED",
                "REOPENED",
                name="from_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "REPORTED",
                "ACCEPTED",
                "ESCALATED",
                "ASSIGNED",
                "RESOLVED",
                "VERIFIED",
                "CLOSED",
                "REOPENED",
                name="casestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("actor_role", sa.String(length=64), nullable=False),
        sa.Column("actor_grid_code", sa.String(length=32), nullable=True),
        sa.Column(
            "actor_department",
            sa.Enum(
                "HEALTH",
                "SOCIAL_SECURITY",
                "EDUCATION",
                "POLICE",
                name="department",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("holding_grid_code", sa.String(length=32), nullable=False),
        sa.Column("due_at", hub.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("prior_due_at", hub.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "satisfaction",
            sa.Enum(
                "SATISFIED",
                "BASICALLY_SATISFIED",
                "DISSATISFIED",
                name="satisfaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_grid_code"], ["grids.code"], name=op.f("fk_case_traces_actor_grid_code_grids")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_traces_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["holding_grid_code"],
            ["grids.code"],
            name=op.f("fk_case_traces_holding_grid_code_grids"),
        ),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_case_traces")),
    )
    with op.batch_alter_table("case_traces", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_traces_actor_grid_code_at", ["actor_grid_code", "at"], unique=False
        )
        batch_op.create_index("ix_case_traces_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_case_traces_late_moves",
            ["prior_due_at"],
            unique=False,
            postgresql_where=sa.text("at > prior_due_at"),
            sqlite_where=sa.text("at > prior_due_at"),
        )

    op.create_table(
        "joint_meeting_cases",
        sa.Column("meeting_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_joint_meeting_cases_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["joint_meetings.id"],
            name=op.f("fk_joint_meeting_cases_meeting_id_joint_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "case_id", name=op.f("pk_joint_meeting_cases")),
    )
    with op.batch_alter_table("joint_meeting_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_joint_meeting_cases_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "joint_meeting_participants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meeting_id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "GRID",
                "DEPARTMENT",
                "OUTSIDE_UNIT",
                name="participantkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column(
            "department",
            sa.Enum(
                "HEALTH",
                "SOCIAL_SECURITY",
                "EDUCATION",
                "POLICE",
                name="department",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("unit_name", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "(kind = 'GRID' AND grid_code IS NOT NULL) OR (kind = 'DEPARTMENT' AND department IS NOT NULL) OR (kind = 'OUTSIDE_UNIT' AND unit_name IS NOT NULL)",
            name=op.f("ck_joint_meeting_participants_names_its_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_code"],
            ["grids.code"],
            name=op.f("fk_joint_meeting_participants_grid_code_grids"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["joint_meetings.id"],
            name=op.f("fk_joint_meeting_participants_meeting_id_joint_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_meeting_participants")),
    )
    with op.batch_alter_table("joint_meeting_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_joint_meeting_participants_meeting_id"), ["meeting_id"], unique=False
        )

    op.create_table(
        "patrol_findings",
        sa.Column("patrol_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_patrol_findings_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrols.id"],
            name=op.f("fk_patrol_findings_patrol_id_patrols"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patrol_id", "case_id", name=op.f("pk_patrol_findings")),
    )
    with op.batch_alter_table("patrol_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_findings_case_id"), ["case_id"], unique=False)

    op.create_table(
        "visits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column(
            "grid_path",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("visitor", sa.String(length=255), nullable=False),
        sa.Column("visitor_name", sa.String(length=64), nullable=True),
        sa.Column("visited_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("follow_up_case_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_case_id"], ["cases.id"], name=op.f("fk_visits_follow_up_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["grid_code"], ["grids.code"], name=op.f("fk_visits_grid_code_grids")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_visits_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_grid_path_visited_on", ["grid_path", "visited_on"], unique=False
        )
        batch_op.create_index(
            "ix_visits_household_id_visited_on", ["household_id", "visited_on"], unique=False
        )
        batch_op.create_index(
            "ix_visits_visited_on_grid_code", ["visited_on", "grid_code"], unique=False
        )

    op.create_table(
        "case_assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "POST",
                "DEPARTMENT",
                name="assignmentkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column(
            "department",
            sa.Enum(
                "HEALTH",
                "SOCIAL_SECURITY",
                "EDUCATION",
                "POLICE",
                name="department",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("trace_seq", sa.Integer(), nullable=False),
        sa.Column("assigned_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'POST' AND member_id IS NOT NULL AND department IS NULL) OR (kind = 'DEPARTMENT' AND department IS NOT NULL AND member_id IS NULL)",
            name=op.f("ck_case_assignments_post_or_department"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id", "trace_seq"],
            ["case_traces.case_id", "case_traces.seq"],
            name=op.f("fk_case_assignments_case_id_case_traces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_assignments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["grid_members.id"],
            name=op.f("fk_case_assignments_member_id_grid_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_assignments")),
    )
    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assignments_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_assignments_department_case_id", ["department", "case_id"], unique=False
        )

    op.create_table(
        "case_residents",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_residents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_case_residents_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "resident_id", name=op.f("pk_case_residents")),
    )
    with op.batch_alter_table("case_residents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_residents_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "visit_residents",
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_visit_residents_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_visit_residents_visit_id_visits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visit_id", "resident_id", name=op.f("pk_visit_residents")),
    )
    with op.batch_alter_table("visit_residents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_residents_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visit_residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_residents_resident_id"))

    op.drop_table("visit_residents")
    with op.batch_alter_table("case_residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_residents_resident_id"))

    op.drop_table("case_residents")
    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_case_assignments_department_case_id")
        batch_op.drop_index(batch_op.f("ix_case_assignments_case_id"))

    op.drop_table("case_assignments")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_visited_on_grid_code")
        batch_op.drop_index("ix_visits_household_id_visited_on")
        batch_op.drop_index("ix_visits_grid_path_visited_on")

    op.drop_table("visits")
    with op.batch_alter_table("patrol_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_findings_case_id"))

    op.drop_table("patrol_findings")
    with op.batch_alter_table("joint_meeting_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_joint_meeting_participants_meeting_id"))

    op.drop_table("joint_meeting_participants")
    with op.batch_alter_table("joint_meeting_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_joint_meeting_cases_case_id"))

    op.drop_table("joint_meeting_cases")
    with op.batch_alter_table("case_traces", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_case_traces_late_moves",
            postgresql_where=sa.text("at > prior_due_at"),
            sqlite_where=sa.text("at > prior_due_at"),
        )
        batch_op.drop_index("ix_case_traces_at")
        batch_op.drop_index("ix_case_traces_actor_grid_code_at")

    op.drop_table("case_traces")
    with op.batch_alter_table("case_households", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_households_household_id"))

    op.drop_table("case_households")
    with op.batch_alter_table("patrols", schema=None) as batch_op:
        batch_op.drop_index("ix_patrols_grid_code_day")
        batch_op.drop_index("ix_patrols_day")

    op.drop_table("patrols")
    with op.batch_alter_table("joint_meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_joint_meetings_grid_path_held_on")
        batch_op.drop_index("ix_joint_meetings_grid_code_held_on")

    op.drop_table("joint_meetings")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_reported_at")
        batch_op.drop_index("ix_cases_holding_grid_path_state")
        batch_op.drop_index("ix_cases_grid_path_state")
        batch_op.drop_index("ix_cases_grid_code_reported_at")
        batch_op.drop_index("ix_cases_due_at")

    op.drop_table("cases")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
