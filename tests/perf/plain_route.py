"""The "how fast could Python be" line of `make bench`: starlette + asyncpg + orjson, no GraphQL.

Serve it with one uvicorn worker (the benchmark does)::

    BENCH_PLAIN_DSN=postgresql://bench_plain@127.0.0.1:PORT/DB BENCH_PLAIN_WITHIN=410105/ \\
        BENCH_PLAIN_FIELD_KEY=<HUB_FIELD_KEY> uvicorn --factory tests.perf.plain_route:create_app

It runs the SELECTs the hub's data loaders run for the same question, one after the other on
one pooled connection, outside any transaction, with `= ANY($1)` array parameters and
always a custom plan, and builds the hub's JSON answer directly:

- GET /page?first=N: the first N residents (in id order) inside the caller's subtree
  (`BENCH_PLAIN_WITHIN`), their count, their grids, households and tags (one statement)
  and every department record (nine tables, newest first, one statement), as the hub's
  loaders read them: 4 statements;
- GET /resident?id=… or ?idNumber=…: the resident inside the subtree and its grid: 2.

ID and phone numbers are stored sealed (hub/crypto); like the hub, and like any Python service
over this database would have to, the route opens them per row with the database's key ring
(hub.crypto, loaded once at start-up under BENCH_PLAIN_FIELD_KEY, the master key) and finds
an ID number through the keyed blind index (`id_number_index = ANY(…)`, one value per
searchable key). The page opens the ID number only (for maskedIdNumber); the lookups open
both.

No token, no purpose check, no audit: it is the floor the hub's request path is measured
against, not a second implementation of the hub.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.clock import age_on, local_today
from hub.crypto.columns import ID_NUMBER, PHONE
from hub.crypto.ring import KeyRing
from hub.identity import IdNumberError, mask_id_number, normalize_id_number
from hub.storage.grids import path_upper_bound
from hub.storage.session import SERVER_SETTINGS
from tests.perf.bench_numbers import key_ring

RESIDENT_COLUMNS = (
    "id, id_number_encrypted, name, gender, birth_date, phone_encrypted, address, household_id, "
    "grid_code, grid_path, created_at, updated_at"
)
IN_SUBTREE = "grid_path >= $1 AND grid_path < $2"
PAGE = (
    f"SELECT {RESIDENT_COLUMNS} FROM residents WHERE {IN_SUBTREE} ORDER BY grid_path, id LIMIT $3"
)
COUNT = f"SELECT count(*) FROM residents WHERE {IN_SUBTREE}"
BY_ID = f"SELECT {RESIDENT_COLUMNS} FROM residents WHERE id = $3 AND {IN_SUBTREE}"
BY_ID_NUMBER = (
    f"SELECT {RESIDENT_COLUMNS} FROM residents WHERE id_number_index = ANY($3) AND {IN_SUBTREE}"
)
GRIDS = "SELECT code, name, level, parent_code, path, created_at FROM grids WHERE code = ANY($1)"


Build = Callable[..., Any]
# (hub department field, hub record field, table, (column, type) the hub's page reads, builder
# of the record from those columns' values)
RECORDS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], Build], ...] = (
    ("health", "familyDoctorContracts", "health_family_doctor_contracts",
     (("doctor_name", "VARCHAR(64)"),), lambda v: {"doctorName": v}),
    ("health", "vaccinations", "health_vaccinations",
     (("vaccine", "VARCHAR(64)"),), lambda v: {"vaccine": v}),
    ("health", "chronicConditions", "health_chronic_conditions",
     (("condition", "VARCHAR(64)"),), lambda v: {"condition": v}),
    ("socialSecurity", "insuranceEnrollments", "social_insurance_enrollments",
     (("insurance_type", "VARCHAR(32)"),), lambda v: {"insuranceType": v}),
    ("socialSecurity", "assistanceGrants", "social_assistance_grants",
     (("monthly_amount", "NUMERIC(10, 2)"),), lambda v: {"monthlyAmount": str(v)}),
    ("education", "enrollments", "education_school_enrollments",
     (("grade", "INTEGER"), ("school", "VARCHAR(128)")),
     lambda grade, school: {"school": school, "grade": grade}),
    ("police", "householdRegistration", "police_household_registrations",
     (("household_number", "VARCHAR(32)"),), lambda v: {"householdNumber": v}),
    ("police", "residencePermit", "police_residence_permits",
     (("permit_number", "VARCHAR(32)"),), lambda v: {"permitNumber": v}),
    ("police", "flags", "police_person_flags",
     (("flag_type", "VARCHAR(32)"),), lambda v: {"flagType": v}),
)  # fmt: skip
NEWEST_ONLY = frozenset({"householdRegistration", "residencePermit"})


# A keyed read: table, key column, the other columns read with their types, whether a key's
# rows come newest first (department records), the parameter holding its keys.
Read = tuple[str, str, tuple[tuple[str, str], ...], bool, int]


def _union(reads: tuple[Read, ...]) -> tuple[str, tuple[tuple[int, ...], ...]]:
    """Keyed reads as one statement, as the hub's loaders run a level's reads
    (hub/storage/keyed_union.py): each read's columns in slots of their own, NULL in the
    other branches, tagged with the branch, its key second, a key's rows ordered outside the
    union by columns not sent back. Also, per branch, the positions of its columns in a row."""
    slots = [(i, column, type_) for i, read in enumerate(reads) for column, type_ in read[2]]
    branches = []
    for i, (table, key, _columns, newest_first, parameter) in enumerate(reads):
        order = (
            "source_updated_at AS o_updated_at, id AS o_id"
            if newest_first
            else "CAST(NULL AS TIMESTAMPTZ) AS o_updated_at, CAST(NULL AS INTEGER) AS o_id"
        )
        values = [
            f"{column} AS s{n}" if owner == i else f"CAST(NULL AS {type_}) AS s{n}"
            for n, (owner, column, type_) in enumerate(slots)
        ]
        branches.append(
            f"SELECT {i} AS part, {key} AS k, {order}, {', '.join(values)} "
            f"FROM {table} WHERE {key} = ANY(${parameter})"
        )
    sent = ", ".join(f"s{n}" for n in range(len(slots)))
    sql = (
        f"SELECT part, k, {sent} FROM ({' UNION ALL '.join(branches)}) AS keyed "
        "ORDER BY o_updated_at DESC, o_id"
    )
    positions = tuple(
        tuple(2 + n for n, (owner, _c, _t) in enumerate(slots) if owner == i)
        for i in range(len(reads))
    )
    return sql, positions


# The residents' grids ($1: codes), households ($2: ids) and tags ($3: resident ids).
RESIDENT_READS: tuple[Read, ...] = (
    ("grids", "code", (("name", "VARCHAR(128)"), ("level", "VARCHAR(32)"),
                       ("parent_code", "VARCHAR(32)"), ("path", "VARCHAR(255)"),
                       ("created_at", "TIMESTAMPTZ")), False, 1),
    ("households", "id", (("number", "VARCHAR(32)"), ("address", "VARCHAR(255)"),
                          ("grid_code", "VARCHAR(32)"), ("created_at", "TIMESTAMPTZ")), False, 2),
    ("resident_tags", "resident_id", (("tag", "VARCHAR(32)"),), False, 3),
)  # fmt: skip
RESIDENTS_SQL, RESIDENT_POSITIONS = _union(RESIDENT_READS)
RECORDS_SQL, RECORD_POSITIONS = _union(
    tuple((table, "resident_id", columns, True, 1) for _d, _f, table, columns, _b in RECORDS)
)


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value, default=_default), status, media_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


class PlainRoutes:
    """The routes over one asyncpg pool; `within` is the caller's subtree path, `ring` the
    database's field keys."""

    def __init__(self, pool: asyncpg.Pool, within: str, ring: KeyRing) -> None:
        self.pool = pool
        self.ring = ring
        self.bounds = (within, path_upper_bound(within))

    async def page(self, request: Request) -> Response:
        first = int(request.query_params.get("first", "50"))
        today = local_today()
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(PAGE, *self.bounds, first + 1)
            rows = rows[:first]
            total = await connection.fetchval(COUNT, *self.bounds)
            ids = [row["id"] for row in rows]
            codes = list({row["grid_code"] for row in rows})
            household_ids = list({row["household_id"] for row in rows} - {None})
            grids: dict[str, dict[str, str]] = {}
            households: dict[str, dict[str, str]] = {}
            tags: dict[str, list[str]] = {resident_id: [] for resident_id in ids}
            grid_at, household_at, tag_at = RESIDENT_POSITIONS
            for read in await connection.fetch(RESIDENTS_SQL, codes, household_ids, ids):
                part, key = read[0], read[1]
                if part == 0:
                    grids[key] = {"code": key, "name": read[grid_at[0]]}
                elif part == 1:
                    households[key] = {"number": read[household_at[0]]}
                else:
                    tags[key].append(read[tag_at[0]])
            per_type: list[dict[str, list[Any]]] = [{key: [] for key in ids} for _ in RECORDS]
            for record in await connection.fetch(RECORDS_SQL, ids):
                part = record[0]
                values = [record[n] for n in RECORD_POSITIONS[part]]
                per_type[part][record[1]].append(RECORDS[part][4](*values))
            records = {record[1]: found for record, found in zip(RECORDS, per_type, strict=True)}
        edges = []
        for row in rows:
            resident_id = row["id"]
            profiles: dict[str, dict[str, Any]] = {
                "health": {}, "socialSecurity": {}, "education": {}, "police": {}
            }  # fmt: skip
            for department, field, _table, _columns, _build in RECORDS:
                found = records[field][resident_id]
                if field in NEWEST_ONLY:
                    profiles[department][field] = found[0] if found else None
                else:
                    profiles[department][field] = found
            node = {
                "id": resident_id,
                "name": row["name"],
                "age": age_on(row["birth_date"], today),
                "maskedIdNumber": mask_id_number(
                    self.ring.open(ID_NUMBER, row["id_number_encrypted"])
                ),
                "tags": sorted(tags[resident_id]),
                "grid": grids.get(row["grid_code"]),
                "household": households.get(row["household_id"]),
                **profiles,
            }
            edges.append({"node": node})
        return _json({"data": {"residents": {"totalCount": total, "edges": edges}}})

    async def resident(self, request: Request) -> Response:
        params = request.query_params
        key: str | list[bytes]
        if "idNumber" in params:
            try:
                number = normalize_id_number(params["idNumber"])
            except IdNumberError as error:
                return _json({"errors": [{"message": str(error)}]}, 400)
            query, key = BY_ID_NUMBER, self.ring.indexes(ID_NUMBER, number)
        else:
            query, key = BY_ID, params.get("id", "")
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(query, *self.bounds, key)
            grids = await self._grids(connection, {row["grid_code"]}) if row else {}
        if row is None:
            return _json({"data": {"resident": None}})
        grid = grids.get(row["grid_code"])
        id_number = self.ring.open(ID_NUMBER, row["id_number_encrypted"])
        resident = {
            "id": row["id"],
            "name": row["name"],
            "gender": row["gender"],
            "birthDate": _iso(row["birth_date"]),
            "maskedIdNumber": mask_id_number(id_number),
            "idNumber": id_number,
            "phone": self.ring.open_optional(PHONE, row["phone_encrypted"]),
            "address": row["address"],
            "grid": None if grid is None else {"code": grid["code"]},
        }
        return _json({"data": {"resident": resident}})

    @staticmethod
    async def _grids(connection: Any, codes: set[str]) -> dict[str, dict[str, str]]:
        rows = await connection.fetch(GRIDS, list(codes))
        return {row["code"]: {"code": row["code"], "name": row["name"]} for row in rows}


async def _keep(connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is."""


def _iso(day: date) -> str:
    return day.isoformat()


def create_app() -> Starlette:
    """The app, configured from BENCH_PLAIN_DSN, BENCH_PLAIN_WITHIN, BENCH_PLAIN_FIELD_KEY and
    BENCH_PLAIN_POOL."""
    dsn = os.environ["BENCH_PLAIN_DSN"]
    field_key = os.environ["BENCH_PLAIN_FIELD_KEY"]
    within = os.environ["BENCH_PLAIN_WITHIN"]
    size = int(os.environ.get("BENCH_PLAIN_POOL", "10"))
    routes: list[PlainRoutes] = []

    async def page(request: Request) -> Response:
        return await routes[0].page(request)

    async def resident(request: Request) -> Response:
        return await routes[0].resident(request)

    async def ready(request: Request) -> Response:
        return _json({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # No reset query on release (asyncpg's default runs four statements per request):
        # these routes leave no session state behind, as PostGraphile's pool assumes too.
        # Custom plans always: after five executions PostgreSQL may keep a generic plan, and
        # the generic plan of PAGE sorts the whole subtree (11 ms at 20,000 residents instead
        # of 0.2 ms walking the primary key).
        pool = await asyncpg.create_pool(
            dsn,
            min_size=size,
            max_size=size,
            reset=_keep,
            # As the hub's server connections, and custom plans.
            server_settings={"plan_cache_mode": "force_custom_plan", **SERVER_SETTINGS},
        )
        database_url = make_url(dsn).set(drivername="postgresql+asyncpg")
        ring = await key_ring(database_url.render_as_string(hide_password=False), field_key)
        routes.append(PlainRoutes(pool, within, ring))
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/page", page),
            Route("/resident", resident),
            Route("/readyz", ready),
        ],
        lifespan=lifespan,
    )
