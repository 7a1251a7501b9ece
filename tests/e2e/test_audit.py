"""The audit trail under load and under a crash, against `hub serve` on a real port."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hub.identity import make_id_number
from hub.storage.base import Base
from hub.storage.models import AuditEvent
from hub.storage.session import create_engine
from tests.e2e.conftest import (
    HUB_BIN,
    LiveHub,
    district_code,
    e2e_database,
    run_hub,
    seed_database,
)

pytestmark = pytest.mark.e2e

QUERY = "{ residents(first: 5) { totalCount edges { node { id name } } } }"


async def request_ids_in_trail(database_url: str, ids: list[str]) -> dict[str, int]:
    """How many events each request id has (0 when missing)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = (
                select(AuditEvent.request_id, func.count())
                .where(AuditEvent.request_id.in_(ids))
                .group_by(AuditEvent.request_id)
            )
            found: dict[str, int] = {}
            for request_id, count in await connection.execute(query):
                found[request_id] = count
    finally:
        await engine.dispose()
    return {request_id: found.get(request_id, 0) for request_id in ids}


async def fire(
    url: str,
    headers: dict[str, str],
    ids: list[str],
    *,
    connections: int,
    answered: dict[str, int] | None = None,
) -> dict[str, int]:
    """POST one query per request id, `connections` in flight at once; status per answer.

    In-flight requests are bounded here rather than in httpx's pool, whose wait would
    count against each request's timeout.
    """
    answered = {} if answered is None else answered
    failed: dict[str, int] = {}
    in_flight = asyncio.Semaphore(connections)
    # A fresh connection per request: a reused one the server has just closed would fail
    # the request without telling whether the server saw it.
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(request_id: str) -> None:
            try:
                async with in_flight:
                    response = await client.post(
                        f"{url}/graphql",
                        json={"query": QUERY},
                        headers={**headers, "X-Request-Id": request_id},
                    )
            except httpx.HTTPError as error:
                failed[type(error).__name__] = failed.get(type(error).__name__, 0) + 1
                return  # no answer: the server may have died mid-request
            answered[request_id] = response.status_code

        await asyncio.gather(*(one(request_id) for request_id in ids))
    if failed:
        print(f"requests without an answer: {failed}", file=sys.stderr)
    return answered


def verify(hub: LiveHub) -> subprocess.CompletedProcess[str]:
    """`hub audit verify`, against the checkpoints the server wrote outside the database if
    it wrote any yet (one every 1,000 events or 60 s)."""
    checkpoints = Path(hub.env["HUB_VAR_DIR"]) / "audit-checkpoints"
    outside = ["--checkpoints", str(checkpoints)] if checkpoints.exists() else []
    return subprocess.run(
        [str(HUB_BIN), "audit", "verify", *outside],
        env=dict(hub.env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_two_thousand_concurrent_requests_leave_exactly_two_thousand_chained_events(
    live_hub: LiveHub, full_view_headers: dict[str, str]
) -> None:
    ids = [f"load-{uuid.uuid4().hex}" for _ in range(2000)]

    answered = asyncio.run(fire(live_hub.url, full_view_headers, ids, connections=200))
    trail = asyncio.run(request_ids_in_trail(live_hub.database_url, ids))
    verified = verify(live_hub)

    assert set(answered.values()) == {200}, live_hub.log()[-3000:]
    assert len(answered) == 2000
    assert sorted(set(trail.values())) == [1]
    assert verified.returncode == 0, verified.stderr


@pytest.fixture
def crash_hub(tmp_path: Path) -> Iterator[LiveHub]:
    with e2e_database(tmp_path) as database_url:
        seed_database(database_url, tmp_path / "var")
        with run_hub(database_url, tmp_path, district=district_code(database_url)) as hub:
            yield hub


def test_sigkill_under_load_loses_no_answered_request_and_the_chain_still_verifies(
    crash_hub: LiveHub,
) -> None:
    headers = crash_hub.caller_headers("health_officer")
    ids = [f"crash-{uuid.uuid4().hex}" for _ in range(3000)]

    async def load_then_kill() -> dict[str, int]:
        answered: dict[str, int] = {}
        load = asyncio.create_task(
            fire(crash_hub.url, headers, ids, connections=100, answered=answered)
        )
        deadline = time.monotonic() + 60
        while len(answered) < 50 and time.monotonic() < deadline:  # the load is under way
            await asyncio.sleep(0.05)
        await asyncio.sleep(random.uniform(0, 0.5))
        os.kill(crash_hub.pid, signal.SIGKILL)
        return await load

    answered = asyncio.run(load_then_kill())
    ok = [request_id for request_id, status in answered.items() if status == 200]
    trail = asyncio.run(request_ids_in_trail(crash_hub.database_url, ids))
    verified = verify(crash_hub)

    assert 0 < len(ok) < len(ids), "the kill should land in the middle of the load"
    assert [request_id for request_id in ok if trail[request_id] != 1] == []
    assert max(trail.values()) == 1
    assert verified.returncode == 0, verified.stderr + verified.stdout
    print(f"answered {len(ok)} of {len(ids)} before SIGKILL", file=sys.stderr)


# --- personal numbers never in clear ----------------------------------------------------------

# Numbers no seeded resident has (checked before the requests): ID numbers as people type
# them (plain, spaced, full-width, legacy 15 digits) and mobile numbers in several forms.
ID_NUMBER = make_id_number(region="410105", birth_date=date(1961, 2, 3), sequence=457)
LEGACY = f"{ID_NUMBER[:6]}{ID_NUMBER[8:17]}"  # its pre-1999 15-digit form
SPACED = f"{ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]}"
FULL_WIDTH = ID_NUMBER.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
OTHER_ID = make_id_number(region="410105", birth_date=date(1958, 7, 9), sequence=123)
PHONE, PHONE_DASHED = "13912345678", "139-8765-4321"
PHONE_INTL = "+86 137 1111 2222"
SENT = (ID_NUMBER, LEGACY, SPACED, FULL_WIDTH, OTHER_ID, PHONE, PHONE_DASHED, PHONE_INTL)


def clear_forms() -> set[bytes]:
    """Every way the numbers could sit in a file: as sent (UTF-8), and as bare digits."""
    forms = {text.encode() for text in SENT}
    forms |= {
        "".join(ch for ch in text.translate(_ASCII) if ch.isalnum()).encode() for text in SENT
    }
    forms |= {b"13987654321", b"13711112222"}
    return forms


_ASCII = str.maketrans("０１２３４５６７８９Ｘ", "0123456789X")


async def database_dump(database_url: str) -> bytes:
    """Every row of every table, as text (PostgreSQL); the raw files for SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        files = [Path(url.database + suffix) for suffix in ("", "-wal", "-journal")]
        return b"".join(path.read_bytes() for path in files if path.exists())
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            chunks = []
            for table in Base.metadata.sorted_tables:
                rows = (await connection.execute(select(table))).all()
                chunks.append(repr([tuple(row) for row in rows]).encode())
            return b"\n".join(chunks)
    finally:
        await engine.dispose()


def found_in(data: bytes) -> list[bytes]:
    return sorted(form for form in clear_forms() if form in data)


def test_no_id_or_phone_number_in_clear_in_the_database_or_the_server_log(
    tmp_path: Path,
) -> None:
    with e2e_database(tmp_path) as database_url:
        seed_database(database_url, tmp_path / "var")
        assert found_in(asyncio.run(database_dump(database_url))) == []  # the test's premise
        with run_hub(database_url, tmp_path, district=district_code(database_url)) as hub:
            log_path = hub.log_path
            headers = hub.caller_headers("service_center_clerk", grid=hub.district_code)
            headers.update(
                {
                    "X-Request-Purpose": quote(f"核查身份证 {SPACED} 的情况"),
                    "X-Request-User": quote(f"张警官 手机{PHONE_DASHED}"),
                    "X-Request-Case": quote(f"案-{FULL_WIDTH}"),
                    "X-Request-Id": PHONE,
                }
            )
            lookup = "query($n: String!) { resident(idNumber: $n) { id } }"
            free_text = (
                "query($note: String, $p: String) { residents(filter: {namePrefix: $p}) "
                "{ totalCount } me { clientId } }"
            )
            note = f"来电 {PHONE_INTL}，身份证 {LEGACY}，另一人 {OTHER_ID}"
            answers = [
                hub.post(lookup, {"n": ID_NUMBER}, headers=headers),
                hub.post(lookup, {"n": FULL_WIDTH}, headers=headers),
                hub.post(free_text, {"note": note, "p": f"张 {ID_NUMBER}"}, headers=headers),
                hub.post("query($n: Int) { me { clientId } }", {"n": ID_NUMBER}, headers=headers),
                hub.post(
                    lookup, {"n": ID_NUMBER}, headers={**headers, "Authorization": "Bearer x"}
                ),
            ]
            audited = asyncio.run(request_ids_in_trail(database_url, [PHONE]))
        database = asyncio.run(database_dump(database_url))
        log = log_path.read_bytes()

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 401]
    assert audited[PHONE] == 0  # the request id itself was a phone number: hashed too
    assert found_in(database) == []
    assert found_in(log) == []
