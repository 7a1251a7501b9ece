"""The auditor's GraphQL API: events, per-resident access reports, chain status."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.app import create_app
from hub.auth.policy import load_policy
from hub.config import Settings, TrustedIssuer
from hub.identity import make_id_number
from hub.storage import models
from hub.storage.models import AuditEvent
from hub.vocabulary import PersonFlagType
from tests.conftest import Clients, GraphQLClient, World

EVENTS = """
query($filter: AuditFilter) {
  auditEvents(filter: $filter, first: 100) {
    totalCount
    edges { node { clientId roles purpose outcome residentIds fields deniedPaths operationName durationMs hash } }
  }
}
"""


async def test_auditor_filters_events_by_client_resident_field_and_outcome(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    seen, other = (
        await world.resident(grids["410105001001001"]),
        await world.resident(grids["410105002001001"]),
    )
    await world.record(
        models.PersonFlag, seen, flag_type=PersonFlagType.PETITIONER, flagged_on=seen.birth_date
    )
    police = await clients.graphql("police_officer", purpose="核查信访")
    health = await clients.graphql("health_officer")
    await police(
        "query Flags($id: ID!) { resident(id: $id) { police { flags { flagType } } } }",
        {"id": seen.id},
    )
    await health(
        "query($id: ID!) { resident(id: $id) { name police { flags { flagType } } } }",
        {"id": other.id},
    )
    police_client = (await police("{ me { clientId } }"))["data"]["me"]["clientId"]
    auditor = await clients.graphql("auditor", purpose=None)

    by_client = await auditor(EVENTS, {"filter": {"clientId": police_client}})
    by_resident = await auditor(EVENTS, {"filter": {"residentId": seen.id}})
    by_field = await auditor(EVENTS, {"filter": {"field": "PoliceProfile.flags"}})
    partial = await auditor(EVENTS, {"filter": {"outcome": "PARTIAL"}})

    assert by_client["data"]["auditEvents"]["totalCount"] == 2
    [seen_event] = [e["node"] for e in by_resident["data"]["auditEvents"]["edges"]]
    assert seen_event["purpose"] == "核查信访"
    assert seen_event["operationName"] == "Flags"
    assert seen_event["roles"] == ["police_officer"]
    assert [e["node"]["residentIds"] for e in by_field["data"]["auditEvents"]["edges"]] == [
        [seen.id]
    ]
    [denied] = [e["node"] for e in partial["data"]["auditEvents"]["edges"]]
    assert denied["deniedPaths"] == ["resident.police"]
    assert denied["residentIds"] == [other.id]


async def test_resident_access_report_lists_who_accessed_when_why_and_which_fields(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001", purpose="入户走访")
    worker.headers["X-Request-Case"] = "visit-42"
    await worker("query($id: ID!) { resident(id: $id) { name phone } }", {"id": resident.id})
    auditor = await clients.graphql("auditor", purpose=None)

    result = await auditor(
        "query($id: ID!) { residentAccessReport(residentId: $id) { accesses { roles purpose caseRef fields outcome } } }",
        {"id": resident.id},
    )

    [access] = result["data"]["residentAccessReport"]["accesses"]
    assert access["roles"] == ["grid_worker"]
    assert access["purpose"] == "入户走访"
    assert access["caseRef"] == "visit-42"
    assert "Resident.phone" in access["fields"]
    assert access["outcome"] == "OK"


async def test_chain_status_turns_false_once_an_event_is_altered(
    clients: Clients, engine: AsyncEngine
) -> None:
    auditor = await clients.graphql("auditor", purpose=None)
    query = "{ auditChainStatus { verified events problem firstBadEventId } }"
    await auditor("{ me { clientId } }")

    before = await auditor(query)
    async with engine.begin() as connection:
        await connection.execute(
            update(AuditEvent).where(AuditEvent.seq == 1).values(outcome="DENIED")
        )
    after = await auditor(query)

    assert [chain["verified"] for chain in before["data"]["auditChainStatus"]] == [True]
    [broken] = after["data"]["auditChainStatus"]
    assert broken["verified"] is False
    assert "modified" in broken["problem"]


async def test_auditor_sees_no_resident_data(world: World, clients: Clients) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    auditor = await clients.graphql("auditor")

    result = await auditor("query($id: ID!) { resident(id: $id) { name } }", {"id": resident.id})

    assert result["data"]["resident"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- starting from an ID number ----------------------------------------------------------------

REPORT = """
query($id: ID, $number: String) {
  residentAccessReport(residentId: $id, idNumber: $number) {
    residentId accesses { roles purpose outcome }
  }
}
"""
BY_NUMBER = """
query($number: String!) {
  auditEvents(filter: {idNumber: $number}) {
    totalCount edges { node { operationName residentIds outcome } }
  }
}
"""


def typed(number: str, form: str) -> str:
    """The ways a citizen's number reaches an auditor."""
    if form == "spaced":
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if form == "full-width":
        return number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    return number


@pytest.mark.parametrize("form", ["plain", "spaced", "full-width"])
async def test_access_report_by_id_number_is_the_report_by_resident_id(
    world: World, clients: Clients, form: str
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001", purpose="入户走访")
    await worker("query($id: ID!) { resident(id: $id) { name } }", {"id": resident.id})
    auditor = await clients.graphql("auditor", purpose=None)

    by_number = await auditor(REPORT, {"number": typed(resident.id_number, form)})
    by_id = await auditor(REPORT, {"id": resident.id})

    assert "errors" not in by_number, by_number
    assert by_number == by_id
    report = by_number["data"]["residentAccessReport"]
    assert report["residentId"] == resident.id
    assert report["accesses"] == [
        {"roles": ["grid_worker"], "purpose": "入户走访", "outcome": "OK"}
    ]


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        pytest.param(
            {"number": make_id_number(region="410105", birth_date=date(1970, 5, 6), sequence=9)},
            "NOT_FOUND",
            id="unknown-id-number",
        ),
        pytest.param({"id": "r-nobody"}, "NOT_FOUND", id="unknown-resident-id"),
        pytest.param({"number": "410105197005060091"}, "BAD_USER_INPUT", id="bad-check-digit"),
        pytest.param({}, "BAD_USER_INPUT", id="neither"),
    ],
)
async def test_access_report_of_an_unknown_resident_is_an_error_not_an_empty_report(
    world: World, clients: Clients, variables: dict[str, str], code: str
) -> None:
    await world.tree()
    auditor = await clients.graphql("auditor", purpose=None)

    result = await auditor(REPORT, variables)

    assert result["data"]["residentAccessReport"] is None
    assert [error["extensions"]["code"] for error in result["errors"]] == [code]


async def test_events_by_id_number_include_lookups_that_returned_nothing(
    world: World, clients: Clients
) -> None:
    """Whoever asked for the number is found, even when row scope hid the resident."""
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    other = await world.resident(grids["410105001001002"])
    outsider = await clients.graphql("grid_worker", grid="410105002001001")
    clerk = await clients.graphql("service_center_clerk", grid="410105001")
    lookup = "query Probe($n: String!) { resident(idNumber: $n) { id } }"
    page = "query Page { residents(first: 10) { edges { node { id } } } }"
    hidden = await outsider(lookup, {"n": typed(resident.id_number, "spaced")})
    await clerk(page)
    await clerk(lookup, {"n": other.id_number})
    auditor = await clients.graphql("auditor", purpose=None)

    result = await auditor(BY_NUMBER, {"number": resident.id_number})

    assert hidden["data"]["resident"] is None
    events = [edge["node"] for edge in result["data"]["auditEvents"]["edges"]]
    assert [(e["operationName"], e["residentIds"]) for e in events] == [
        ("Page", [resident.id, other.id]),
        ("Probe", []),
    ]


async def test_events_carry_the_token_issuer_and_are_filtered_by_it(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A trusted OpenID provider's token: its `iss` is on the event, and filterable."""
    with jwks_server() as (jwks_url, idp_key):
        trusted = TrustedIssuer(issuer=IDP, jwks_uri=jwks_url, audience="gridhub")
        app = create_app(settings.model_copy(update={"trusted_issuers": [trusted]}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            external = GraphQLClient(http, {"Authorization": f"Bearer {idp_token(idp_key)}"})
            await external("{ me { clientId } }")
            clients = Clients(http, sessionmaker, load_policy(settings.policy))
            auditor = await clients.graphql("auditor", purpose=None)
            query = "query($i: String) { auditEvents(filter: {issuer: $i}) { edges { node { issuer clientId } } } }"
            theirs = await auditor(query, {"i": IDP})
            ours = await auditor(query, {"i": settings.issuer})
        await app.state.audit.stop()
        await app.state.engine.dispose()

    assert [edge["node"] for edge in theirs["data"]["auditEvents"]["edges"]] == [
        {"issuer": IDP, "clientId": "counter-frontend"}
    ]
    assert {edge["node"]["issuer"] for edge in ours["data"]["auditEvents"]["edges"]} == {
        settings.issuer
    }


IDP = "https://sso.example.gov.cn/realms/zhengzhou"


@contextlib.contextmanager
def jwks_server() -> Iterator[tuple[str, RSAKey]]:
    """An identity provider's JWK Set on a real loopback HTTP server."""
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    body = json.dumps({"keys": [{**key.as_dict(private=False), "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/certs", key
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def idp_token(key: RSAKey) -> str:
    now = int(time.time())
    claims = {
        "iss": IDP,
        "aud": "gridhub",
        "sub": "staff-0042",
        "azp": "counter-frontend",
        "roles": ["health_officer"],
        "iat": now,
        "exp": now + 300,
        "jti": "idp-1",
    }
    return jwt.encode({"typ": "JWT", "alg": "RS256", "kid": key.kid}, claims, key)


STATUS = """
{ auditChainStatus { chainId events headSeq verified problem checkedFromSeq
    lastCheckpoint { seq hash signatureValid kid jws } } }
"""


async def test_chain_status_shows_the_last_checkpoint_and_checks_only_what_follows_it(
    app: Starlette, clients: Clients, engine: AsyncEngine
) -> None:
    auditor = await clients.graphql("auditor", purpose=None)
    for _ in range(4):
        await auditor("{ me { clientId } }")
    checkpoint = await app.state.audit.checkpoint()
    await auditor("{ me { clientId } }")

    before = await auditor(STATUS)
    async with engine.begin() as connection:  # the checkpointed event, re-hashed: a rewrite
        await connection.execute(
            update(AuditEvent).where(AuditEvent.seq == 4).values(hash="0" * 64)
        )
    after = await auditor(STATUS)

    [chain] = before["data"]["auditChainStatus"]
    assert chain["verified"] is True
    assert chain["checkedFromSeq"] == 4
    assert chain["lastCheckpoint"] == {
        "seq": 4,
        "hash": checkpoint.claims.hash,
        "signatureValid": True,
        "kid": checkpoint.kid,
        "jws": checkpoint.jws,
    }
    [broken] = after["data"]["auditChainStatus"]
    assert broken["verified"] is False
