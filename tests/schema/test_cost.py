"""Static cost from the SDL's @cost/@listSize: what each shape of operation costs."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from schema.build import build_schema
from schema.cost import Cost, StringTooLongError

SCHEMA = build_schema()


def cost_of(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> Cost:
    plan = SCHEMA.cost_model.plan(parse(query), name)
    assert plan is not None
    return plan.evaluate(variables, max_string=256)


@pytest.mark.parametrize(
    ("query", "requested", "residents"),
    [
        ("{ me { clientId } }", 1, 0),
        ("{ residents { totalCount } }", 1, 0),
        ("{ residents(first: 10) { edges { node { id name } } } }", 1 + 10 * 2, 10),
        ("{ residents { edges { node { id } } } }", 1 + 50 * 2, 50),  # `first` defaults to 50
        (
            "{ residents(first: 2) { edges { node { health { vaccinations { vaccine } } } } } }",
            1 + 2 * (1 + 1 + 1 + 10),
            2,
        ),
        ("{ grids { code } }", 100, 0),  # assumed size
        (
            "{ grids { residents(first: 5) { edges { node { name } } } } }",
            100 * (1 + 1 + 5 * 2),
            500,
        ),
        ('{ grid(code: "1") { children { children { code } } } }', 1 + 100 * (1 + 100), 0),
    ],
    ids=[
        "no list",
        "a count only",
        "a page",
        "the default page",
        "a page with a record list",
        "an unpaged list",
        "a page of pages",
        "nested unpaged lists",
    ],
)
def test_what_an_operation_costs(query: str, requested: int, residents: int) -> None:
    cost = cost_of(query)

    assert (cost.requested, cost.resident_nodes) == (requested, residents)


def test_slicing_arguments_may_come_from_variables_and_their_defaults() -> None:
    query = "query($n: Int = 7) { residents(first: $n) { edges { node { id } } } }"

    assert cost_of(query).resident_nodes == 7
    assert cost_of(query, {"n": 3}).resident_nodes == 3
    assert cost_of(query, {"n": "not a number"}).resident_nodes == 50  # the argument's default


def test_entities_are_sized_by_their_representations() -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Resident { id } } }"
    representations = [{"__typename": "Resident", "id": str(n)} for n in range(1234)]

    cost = cost_of(query, {"r": representations})

    assert cost.resident_nodes == 1234
    assert cost.requested == 1234


def test_fragments_cost_what_they_select_wherever_they_are_spread() -> None:
    inline = "{ residents(first: 3) { edges { node { name grid { code } } } } }"
    spread = (
        "query Q { residents(first: 3) { edges { node { ...N } } } } "
        "fragment N on Resident { name grid { code } }"
    )

    assert cost_of(spread, name="Q") == cost_of(inline)


def test_operations_reading_pii_or_sensitive_fields_are_marked_for_the_quota() -> None:
    assert not cost_of("{ residents(first: 1) { edges { node { name } } } }").harvest
    assert cost_of("{ residents(first: 1) { edges { node { phone } } } }").harvest
    assert cost_of(
        "{ residents(first: 1) { edges { node { police { flags { note } } } } } }"
    ).harvest


@pytest.mark.parametrize(
    ("query", "variables", "where"),
    [
        ('{ resident(idNumber: "%s") { id } }' % ("1" * 300), {}, "idNumber"),
        ("query($n: String) { resident(idNumber: $n) { id } }", {"n": "1" * 300}, "idNumber"),
        (
            "query($f: ResidentFilter) { residents(filter: $f) { totalCount } }",
            {"f": {"namePrefix": "张" * 300}},
            "filter.namePrefix",
        ),
    ],
    ids=["a literal", "a variable", "inside an input object"],
)
def test_a_string_argument_past_the_bound_is_refused_naming_it(
    query: str, variables: dict[str, Any], where: str
) -> None:
    with pytest.raises(StringTooLongError) as refused:
        cost_of(query, variables)

    assert f"`{where}`" in refused.value.message
    assert (refused.value.extensions or {})["code"] == "BAD_USER_INPUT"


def test_plans_are_made_once_per_document() -> None:
    document = parse("{ residents(first: 2) { edges { node { id } } } }")

    assert SCHEMA.cost_model.plan(document, None) is SCHEMA.cost_model.plan(document, None)


def test_one_plan_costs_each_requests_variables() -> None:
    """A plan is kept per document: its cost follows the variables that size its lists,
    is computed once when none does, and string arguments are checked on every request."""
    sized_query = (
        "query($n: Int, $k: [_Any!]!) { residents(first: $n) { edges { node { id } } } "
        "_entities(representations: $k) { __typename } }"
    )
    fixed_query = (
        "query($id: ID, $p: String) { resident(id: $id) { id name } "
        "residents(first: 3, filter: {namePrefix: $p}) { edges { node { id } } } }"
    )
    sized = SCHEMA.cost_model.plan(parse(sized_query), None)
    fixed = SCHEMA.cost_model.plan(parse(fixed_query), None)
    assert sized is not None
    assert fixed is not None

    for n, k in ((1, 1), (9, 4), (2, 0)):
        variables = {"n": n, "k": [{}] * k}
        assert sized.evaluate(variables, max_string=256).resident_nodes == n + k
    first = fixed.evaluate({"id": "a", "p": "张"}, max_string=256)
    assert fixed.evaluate({"id": "b", "p": "王"}, max_string=256) is first
    assert first == cost_of(fixed_query, {"id": "d"})  # a plan of its own, computed afresh
    assert first.resident_nodes == 4
    with pytest.raises(StringTooLongError):
        fixed.evaluate({"id": "c", "p": "张" * 300}, max_string=256)


def test_the_sdl_declares_the_list_sizes_the_cost_is_computed_from() -> None:
    sdl = SCHEMA.as_str()

    assert '@listSize(slicingArguments: ["first"], sizedFields: ["edges"], ' in sdl
    assert "children: [Grid!]! @listSize(assumedSize: 100)" in sdl
    assert '"@listSize"' in sdl.splitlines()[0]  # imported from the federation spec
