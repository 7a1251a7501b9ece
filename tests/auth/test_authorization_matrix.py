"""The authorization matrix, generated: every shipped role × every field that declares scopes.

The fields come from the exported SDL's declarations (as the schema enforces them), the
roles from the shipped policy; a new protected field or role is covered without edits here.
A field is expected to resolve when the role holds the scopes of every protected field on
the shortest path from the root to it, and to be FORBIDDEN at the first one it lacks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import pytest
from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    Undefined,
    get_named_type,
)

from hub.auth.policy import load_policy
from schema.access import Alternatives, declared_scopes, protected_fields
from schema.build import build_schema
from tests.conftest import Clients, World

UNIFIED = build_schema()
GRAPHQL: GraphQLSchema = UNIFIED._schema
POLICY = load_policy()
PROTECTED = protected_fields(UNIFIED)
RESIDENT_ID = "r-000001"
BUILDING = "410105001001001"

# Arguments for root fields that need them; every other argument keeps its default.
ROOT_ARGUMENTS = {
    "resident": f'(id: "{RESIDENT_ID}")',
    "grid": f'(code: "{BUILDING}")',
    "residentAccessReport": f'(residentId: "{RESIDENT_ID}")',
    "case": '(id: "no-such-case")',
    "householdsDueVisit": f'(grid: "{BUILDING}")',
    "gridsWithoutPatrol": f'(grid: "{BUILDING}")',
    "ledger": f'(grid: "{BUILDING}", period: {{month: "2026-08"}})',
    "kpis": f'(grid: "{BUILDING}", period: {{month: "2026-08"}})',
    "kpiRanking": f'(grid: "{BUILDING}", kpi: VISITS, period: {{month: "2026-08"}})',
}


def test_every_required_root_argument_has_a_value() -> None:
    """A new root field with required arguments needs a line in ROOT_ARGUMENTS."""
    for root in ROOTS:
        for name, field in object_type(root).fields.items():
            required = any(
                isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
                for arg in field.args.values()
            )
            if required and not name.startswith("_"):
                assert name in ROOT_ARGUMENTS, f"add example arguments for {root}.{name}"


@dataclass(frozen=True)
class Step:
    type_name: str
    field_name: str
    is_list: bool


def object_type(name: str) -> GraphQLObjectType:
    type_ = GRAPHQL.type_map[name]
    assert isinstance(type_, GraphQLObjectType)
    return type_


def _is_list(type_: GraphQLType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


# Mutations have their own matrix below (test_role_may_call_a_mutation_only_with_…).
ROOTS = ["Query"]


def shortest_paths() -> dict[str, list[Step]]:
    """Type name → the shortest field path from a root (Query first) to a value of that type."""
    paths: dict[str, list[Step]] = {root: [] for root in ROOTS}
    queue: deque[str] = deque(ROOTS)
    while queue:
        type_name = queue.popleft()
        for name, field in object_type(type_name).fields.items():
            target = get_named_type(field.type)
            if name.startswith("_") or not isinstance(target, GraphQLObjectType):
                continue
            if target.name not in paths:
                step = Step(type_name, name, _is_list(field.type))
                paths[target.name] = [*paths[type_name], step]
                queue.append(target.name)
    return paths


PATHS = shortest_paths()


def leaf_selection(field: GraphQLField) -> str:
    return " { __typename }" if isinstance(get_named_type(field.type), GraphQLObjectType) else ""


def query_for(coordinate: str) -> tuple[str, list[str]]:
    """A document reaching `coordinate`, and the coordinates of its path (root first)."""
    type_name, field_name = coordinate.split(".")
    steps = [*PATHS[type_name], Step(type_name, field_name, False)]
    field = object_type(type_name).fields[field_name]
    document = field_name + ROOT_ARGUMENTS.get(field_name, "") * (type_name in ROOTS)
    document += leaf_selection(field)
    for step in reversed(steps[:-1]):
        arguments = ROOT_ARGUMENTS.get(step.field_name, "") if step.type_name in ROOTS else ""
        document = f"{step.field_name}{arguments} {{ {document} }}"
    operation = "mutation " if steps[0].type_name == "Mutation" else ""
    return operation + "{ " + document + " }", [f"{s.type_name}.{s.field_name}" for s in steps]


def first_denied(role: str, coordinates: list[str]) -> str | None:
    granted = POLICY.roles[role].scopes
    for coordinate in coordinates:
        alternatives: Alternatives = PROTECTED.get(coordinate, ())
        if alternatives and not any(scopes <= granted for scopes in alternatives):
            return coordinate
    return None


def test_matrix_covers_the_sensitive_fields_of_the_contract() -> None:
    assert {"HealthProfile.chronicConditions", "PoliceProfile.flags", "Resident.idNumber"} <= set(
        PROTECTED
    )
    assert declared_scopes(object_type("Resident").fields["police"])


def outcome(result: dict[str, object]) -> str | None:
    """The field path's first FORBIDDEN field name, or None when nothing was refused."""
    errors = result.get("errors") or []
    assert isinstance(errors, list)
    # BAD_USER_INPUT: the resolver ran (access was granted) and refused its input, e.g. a
    # mutation with nothing to act on in this hub
    unexpected = [
        e for e in errors if e["extensions"]["code"] not in ("FORBIDDEN", "BAD_USER_INPUT")
    ]
    assert not unexpected, result
    forbidden = [e for e in errors if e["extensions"]["code"] == "FORBIDDEN"]
    return str(forbidden[0]["path"][-1]) if forbidden else None


@pytest.mark.parametrize("role", list(POLICY.roles))
async def test_role_sees_a_protected_field_only_with_its_declared_scopes(
    world: World, clients: Clients, role: str
) -> None:
    grids = await world.tree()
    await world.resident(grids[BUILDING])
    needs_grid = POLICY.roles[role].row_scope.value == "grid"
    gql = await clients.graphql(role, grid=BUILDING if needs_grid else None)

    mismatches = []
    for coordinate in sorted(c for c in PROTECTED if c.split(".")[0] in PATHS):
        document, path = query_for(coordinate)
        denied = first_denied(role, path)
        expected = denied.split(".")[1] if denied else None
        actual = outcome(await gql(document))
        if actual != expected:
            mismatches.append((coordinate, document, f"expected {expected}, got {actual}"))

    assert not mismatches


# --- mutations: the same rule at the Mutation root ----------------------------------------------

AT = "2026-08-03T09:00:00+08:00"
MOVE = '(id: "no-such-case", expectedVersion: 1, idempotencyKey: "matrix"'
MUTATION_ARGUMENTS = {
    "reportCase": (
        f'(idempotencyKey: "matrix", grid: "{BUILDING}", '
        'case: {category: WORK_SAFETY, subtype: EBIKE_CHARGING, description: "matrix"})'
    ),
    "acceptCase": f"{MOVE})",
    "escalateCase": f"{MOVE})",
    "assignCase": f"{MOVE}, departments: [HEALTH])",
    "resolveCase": f"{MOVE})",
    "verifyCase": f"{MOVE})",
    "closeCase": f"{MOVE}, satisfaction: SATISFIED)",
    "reopenCase": f"{MOVE})",
    "retryQuarantine": '(connector: "no-such-connector")',
    "recordVisit": f'(idempotencyKey: "matrix", household: "no-such-household", visitedAt: "{AT}")',
    "recordPatrol": (
        f'(idempotencyKey: "matrix", grid: "{BUILDING}", startedAt: "2026-08-03T08:00:00+08:00", '
        f'endedAt: "{AT}")'
    ),
    "recordJointMeeting": (
        f'(idempotencyKey: "matrix", grid: "no-such-grid", heldAt: "{AT}", topic: "t", '
        'decisions: "d", participants: [{kind: OUTSIDE_UNIT, unitName: "a"}, '
        '{kind: OUTSIDE_UNIT, unitName: "b"}])'
    ),
}


def test_every_mutation_has_example_arguments() -> None:
    """A new mutation needs a line in MUTATION_ARGUMENTS."""
    assert set(object_type("Mutation").fields) == set(MUTATION_ARGUMENTS)


def test_a_role_that_may_call_a_root_may_see_every_protected_field_below_it() -> None:
    """Types reached only through Mutation or Subscription roots are not in the query matrix:
    their protected fields must be open to every role that may call the root above them."""
    gaps = []
    for root in ("Mutation", "Subscription"):
        for name, field in object_type(root).fields.items():
            below = _protected_below(get_named_type(field.type).name, set())
            for role in POLICY.roles.values():
                if first_denied(role.name, [f"{root}.{name}"]) is None:
                    gaps += [(root, name, role.name, c) for c in below if _denied(role.name, c)]
    assert gaps == []


def _denied(role: str, coordinate: str) -> bool:
    return first_denied(role, [coordinate]) is not None


def _protected_below(type_name: str, seen: set[str]) -> set[str]:
    type_ = GRAPHQL.type_map[type_name]
    if type_name in seen or type_name in PATHS or not isinstance(type_, GraphQLObjectType):
        return set()  # types reachable from Query are the query matrix's
    seen.add(type_name)
    found = {f"{type_name}.{name}" for name in type_.fields if f"{type_name}.{name}" in PROTECTED}
    for field in type_.fields.values():
        found |= _protected_below(get_named_type(field.type).name, seen)
    return found


def refused_by_scope(result: dict[str, object], coordinate: str) -> bool:
    errors = result.get("errors") or []
    assert isinstance(errors, list)
    codes = {e["extensions"]["code"] for e in errors}
    assert "INTERNAL_SERVER_ERROR" not in codes, result
    return any(
        e["extensions"]["code"] == "FORBIDDEN" and e["message"].startswith(f"`{coordinate}`")
        for e in errors
    )


@pytest.mark.parametrize("role", list(POLICY.roles))
async def test_role_may_call_a_mutation_only_with_its_declared_scopes(
    world: World, clients: Clients, role: str
) -> None:
    await world.tree()
    needs_grid = POLICY.roles[role].row_scope.value == "grid"
    gql = await clients.graphql(role, grid=BUILDING if needs_grid else None)

    mismatches = []
    for name in sorted(MUTATION_ARGUMENTS):
        coordinate = f"Mutation.{name}"
        document = f"mutation {{ {name}{MUTATION_ARGUMENTS[name]} {{ __typename }} }}"
        expected = first_denied(role, [coordinate]) is not None
        actual = refused_by_scope(await gql(document), coordinate)
        if actual != expected:
            mismatches.append((coordinate, f"expected refused={expected}, got {actual}"))

    assert not mismatches
