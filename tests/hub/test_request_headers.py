"""Purpose, end-user and case headers: percent-encoded UTF-8 (RFC 3986) decoded, nothing lost."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers

from hub.request_headers import MAX_LENGTH, request_purpose
from hub.storage.models import AuditEvent
from tests.conftest import Clients, World


def purpose_of(value: bytes) -> str | None:
    """The purpose as the hub reads it from a header whose bytes on the wire are `value`."""
    headers = Headers(raw=[(b"x-request-purpose", value)])
    return request_purpose(headers).purpose


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        pytest.param(quote("入户走访").encode(), "入户走访", id="percent-encoded-utf8"),
        pytest.param(quote("入户走访").lower().encode(), "入户走访", id="lowercase-hex"),
        pytest.param("入户走访".encode(), "入户走访", id="raw-utf8"),
        pytest.param(b"home visit", "home visit", id="ascii"),
        pytest.param(b"100% checked", "100% checked", id="a-lone-percent-stays"),
        pytest.param(b"a+b", "a+b", id="plus-is-not-a-space"),
        pytest.param(b"  %20padded%20 ", "padded", id="trimmed"),
        pytest.param(quote("核查 %").encode(), "核查 %", id="encoded-percent"),
    ],
)
def test_purposes_are_decoded_before_they_are_recorded(sent: bytes, recorded: str) -> None:
    assert purpose_of(sent) == recorded


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        pytest.param(b"%E5%85", "%E5%85", id="truncated-utf8"),
        pytest.param(b"%C0%AF", "%C0%AF", id="overlong-utf8"),
        pytest.param("入户".encode("gbk"), "%C8%EB%BB%A7", id="raw-gbk"),
        pytest.param(b"visit%0Aforged: line", "visit%0Aforged: line", id="newline"),
        pytest.param(b"visit%00", "visit%00", id="nul"),
        pytest.param(
            quote("走访\u202e").encode(), "%E8%B5%B0%E8%AE%BF%E2%80%AE", id="bidi-override"
        ),
    ],
)
def test_undecodable_purposes_are_kept_exactly_as_sent_in_ascii(sent: bytes, recorded: str) -> None:
    """Never a replacement character, a control character or a guess: what arrived, escaped."""
    purpose = purpose_of(sent)

    assert purpose == recorded
    assert purpose is not None
    assert purpose.isascii()
    assert purpose.isprintable()


def test_end_user_and_case_are_decoded_like_the_purpose() -> None:
    headers = Headers(
        raw=[
            (b"x-request-user", quote("警员 张三").encode()),
            (b"x-request-case", quote("案-2026-001").encode()),
        ]
    )

    purpose = request_purpose(headers)

    assert (purpose.end_user, purpose.case_ref) == ("警员 张三", "案-2026-001")
    assert purpose.purpose is None


def test_long_values_are_cut_after_decoding() -> None:
    assert purpose_of(quote("查" * 1000).encode()) == "查" * MAX_LENGTH


@pytest.mark.parametrize("sent", [b"", b"   ", b"%20%20"])
def test_blank_purposes_are_no_purpose(sent: bytes) -> None:
    assert purpose_of(sent) is None


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        pytest.param(quote("入户走访"), "入户走访", id="percent-encoded"),
        pytest.param("visit%00%0A", "visit%00%0A", id="nul-and-newline"),
    ],
)
async def test_the_audit_trail_records_the_decoded_purpose(
    world: World, clients: Clients, engine: AsyncEngine, sent: str, recorded: str
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    worker = await clients.graphql("grid_worker", grid="410105001")
    worker.headers["X-Request-Purpose"] = sent

    result = await worker("query($id: ID!) { resident(id: $id) { name } }", {"id": resident.id})

    assert result == {"data": {"resident": {"name": resident.name}}}
    async with engine.connect() as connection:
        purposes = list(await connection.scalars(select(AuditEvent.purpose)))
    assert purposes == [recorded]
