"""The benchmark's three queries, as each system asks them, and one canonical form of the answers.

Every system answers the same question with the same data; only the request differs:

- the hub: GraphQL at /graphql (bearer token, X-Request-Purpose, audit on);
- PostGraphile v5 (amber preset): GraphQL at /graphql over the same tables; its generated
  schema has no department groups (`health { … }`), so the record lists are aliased on
  `Resident`, `id` is its global node id (the column is `rowId`), and `age`,
  `maskedIdNumber`, `idNumber` and `phone` are computed columns from
  tests/perf/postgraphile/setup.sql (the last three read a clear-text copy of the numbers
  the hub stores sealed: tests/perf/bench_numbers.py);
- the plain route (tests/perf/plain_route.py): GET /page, /resident?id=…, /resident?idNumber=…,
  answering with the hub's JSON shape.

The page is tests/schema/test_batching.py's PAGE_360 without `sources` (a per-resident
GROUP BY over seven record tables that PostGraphile's amber preset cannot express): dropped
for all three. `householdRegistration` and `residencePermit` are the newest record (the
hub's rule); PostGraphile asks for `first: 1` of the list ordered newest first.

`canonical(query, system, body)` maps each answer onto one form, so that the benchmark can
require identical answers before it measures anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

PAGE_SIZE = 100
QUERIES = ("page", "by_id", "by_id_number")
TITLES = {
    "page": "100 residents, all four department profiles",
    "by_id": "one resident by id",
    "by_id_number": "one resident by ID number",
}

HUB_PAGE = """
query Page($first: Int!) {
  residents(first: $first) {
    totalCount
    edges { node {
      id name age maskedIdNumber tags
      grid { code name } household { number }
      health { familyDoctorContracts { doctorName } vaccinations { vaccine } chronicConditions { condition } }
      socialSecurity { insuranceEnrollments { insuranceType } assistanceGrants { monthlyAmount } }
      education { enrollments { school grade } }
      police { householdRegistration { householdNumber } residencePermit { permitNumber } flags { flagType } }
    } }
  }
}
"""

HUB_FIELDS = "id name gender birthDate maskedIdNumber idNumber phone address grid { code }"
HUB_BY_ID = f"query ById($id: ID!) {{ resident(id: $id) {{ {HUB_FIELDS} }} }}"
HUB_BY_ID_NUMBER = (
    f"query ByIdNumber($idNumber: String!) {{ resident(idNumber: $idNumber) {{ {HUB_FIELDS} }} }}"
)

_NEWEST = "orderBy: [SOURCE_UPDATED_AT_DESC, PRIMARY_KEY_ASC]"
POSTGRAPHILE_PAGE = f"""
query Page($first: Int!) {{
  allResidents(first: $first, orderBy: [GRID_PATH_ASC, PRIMARY_KEY_ASC]) {{
    totalCount
    edges {{ node {{
      rowId name age maskedIdNumber
      residentTagsByResidentId(orderBy: PRIMARY_KEY_ASC) {{ nodes {{ tag }} }}
      gridByGridCode {{ code name }} householdByHouseholdId {{ number }}
      familyDoctorContracts: healthFamilyDoctorContractsByResidentId({_NEWEST}) {{ nodes {{ doctorName }} }}
      vaccinations: healthVaccinationsByResidentId({_NEWEST}) {{ nodes {{ vaccine }} }}
      chronicConditions: healthChronicConditionsByResidentId({_NEWEST}) {{ nodes {{ condition }} }}
      insuranceEnrollments: socialInsuranceEnrollmentsByResidentId({_NEWEST}) {{ nodes {{ insuranceType }} }}
      assistanceGrants: socialAssistanceGrantsByResidentId({_NEWEST}) {{ nodes {{ monthlyAmount }} }}
      enrollments: educationSchoolEnrollmentsByResidentId({_NEWEST}) {{ nodes {{ school grade }} }}
      householdRegistration: policeHouseholdRegistrationsByResidentId(first: 1, {_NEWEST}) {{ nodes {{ householdNumber }} }}
      residencePermit: policeResidencePermitsByResidentId(first: 1, {_NEWEST}) {{ nodes {{ permitNumber }} }}
      flags: policePersonFlagsByResidentId({_NEWEST}) {{ nodes {{ flagType }} }}
    }} }}
  }}
}}
"""

POSTGRAPHILE_FIELDS = (
    "rowId name gender birthDate maskedIdNumber idNumber phone address gridByGridCode { code }"
)
POSTGRAPHILE_BY_ID = (
    f"query ById($id: String!) {{ residentByRowId(rowId: $id) {{ {POSTGRAPHILE_FIELDS} }} }}"
)
# The hub stores ID numbers sealed and finds one through a keyed blind index; PostGraphile can
# do neither. setup.sql gives it `resident_by_id_number` (this field) over a clear-text copy
# of the numbers made for the benchmark (bench_resident_numbers, unique index on id_number),
# and idNumber, phone and maskedIdNumber as computed columns reading that copy.
POSTGRAPHILE_BY_ID_NUMBER = (
    "query ByIdNumber($idNumber: String!) { residentByIdNumber(idNumber: $idNumber) "
    f"{{ {POSTGRAPHILE_FIELDS} }} }}"
)

# Record lists of the page: (canonical name, hub department, hub field, value fields).
RECORD_LISTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("familyDoctorContracts", "health", "familyDoctorContracts", ("doctorName",)),
    ("vaccinations", "health", "vaccinations", ("vaccine",)),
    ("chronicConditions", "health", "chronicConditions", ("condition",)),
    ("insuranceEnrollments", "socialSecurity", "insuranceEnrollments", ("insuranceType",)),
    ("assistanceGrants", "socialSecurity", "assistanceGrants", ("monthlyAmount",)),
    ("enrollments", "education", "enrollments", ("school", "grade")),
    ("flags", "police", "flags", ("flagType",)),
)
NEWEST_RECORDS: tuple[tuple[str, str, str], ...] = (
    ("householdRegistration", "householdRegistration", "householdNumber"),
    ("residencePermit", "residencePermit", "permitNumber"),
)


@dataclass(frozen=True)
class Request:
    """One HTTP request of a workload: the load generator cycles through a list of them."""

    method: str
    path: str
    body: str | None = None


@dataclass(frozen=True)
class Lookup:
    """A resident to look up, by id and by ID number."""

    id: str
    id_number: str


def graphql_request(document: str, variables: dict[str, Any]) -> Request:
    body = json.dumps({"query": document, "variables": variables}, ensure_ascii=False)
    return Request("POST", "/graphql", body)


def requests_for(system: str, query: str, lookups: list[Lookup]) -> list[Request]:
    """The requests `system` is sent for `query`; lookups cycle through `lookups`."""
    if query == "page":
        page = {
            "hub": graphql_request(HUB_PAGE, {"first": PAGE_SIZE}),
            "postgraphile": graphql_request(POSTGRAPHILE_PAGE, {"first": PAGE_SIZE}),
            "plain": Request("GET", f"/page?first={PAGE_SIZE}"),
        }
        return [page[system]]
    if query == "by_id":
        documents = {"hub": HUB_BY_ID, "postgraphile": POSTGRAPHILE_BY_ID}
        return [_lookup(system, documents, "id", "id", one.id) for one in lookups]
    if query == "by_id_number":
        documents = {"hub": HUB_BY_ID_NUMBER, "postgraphile": POSTGRAPHILE_BY_ID_NUMBER}
        return [
            _lookup(system, documents, "idNumber", "idNumber", one.id_number) for one in lookups
        ]
    raise ValueError(f"unknown query {query!r}")


def _lookup(
    system: str, documents: dict[str, str], variable: str, parameter: str, value: str
) -> Request:
    if system == "plain":
        return Request("GET", "/resident?" + urlencode({parameter: value}))
    return graphql_request(documents[system], {variable: value})


# --- one canonical form of every answer ------------------------------------------------------


def canonical(query: str, system: str, body: dict[str, Any]) -> Any:
    """The answer reduced to plain values, the same for every system that answered right."""
    if body.get("errors"):
        raise AssertionError(f"{system} answered {query} with errors: {body['errors']}")
    data = body["data"]
    if query == "page":
        if system == "postgraphile":
            connection = data["allResidents"]
            people = [_postgraphile_person(edge["node"]) for edge in connection["edges"]]
        else:
            connection = data["residents"]
            people = [_hub_person(edge["node"]) for edge in connection["edges"]]
        return {"totalCount": connection["totalCount"], "residents": people}
    if system == "postgraphile":
        found = data["residentByRowId" if query == "by_id" else "residentByIdNumber"]
        return None if found is None else _postgraphile_resident(found)
    found = data["resident"]
    return None if found is None else _hub_resident(found)


def _hub_person(node: dict[str, Any]) -> dict[str, Any]:
    person = {key: node[key] for key in ("id", "name", "age", "maskedIdNumber", "tags", "grid")}
    person["household"] = node["household"]
    for name, department, field, values in RECORD_LISTS:
        person[name] = [[record[v] for v in values] for record in node[department][field]]
    for name, field, value in NEWEST_RECORDS:
        record = node["police"][field]
        person[name] = None if record is None else record[value]
    return person


def _postgraphile_person(node: dict[str, Any]) -> dict[str, Any]:
    person = {
        "id": node["rowId"],
        "name": node["name"],
        "age": node["age"],
        "maskedIdNumber": node["maskedIdNumber"],
        "tags": [tag["tag"] for tag in node["residentTagsByResidentId"]["nodes"]],
        "grid": node["gridByGridCode"],
        "household": node["householdByHouseholdId"],
    }
    for name, _department, _field, values in RECORD_LISTS:
        person[name] = [[record[v] for v in values] for record in node[name]["nodes"]]
    for name, _field, value in NEWEST_RECORDS:
        nodes = node[name]["nodes"]
        person[name] = nodes[0][value] if nodes else None
    return person


_RESIDENT_KEYS = ("name", "gender", "birthDate", "maskedIdNumber", "idNumber", "phone", "address")


def _hub_resident(node: dict[str, Any]) -> dict[str, Any]:
    return {"id": node["id"], **{k: node[k] for k in _RESIDENT_KEYS}, "grid": node["grid"]}


def _postgraphile_resident(node: dict[str, Any]) -> dict[str, Any]:
    resident = {"id": node["rowId"], **{k: node[k] for k in _RESIDENT_KEYS}}
    resident["grid"] = node["gridByGridCode"]
    return resident
