"""The README's governance GraphQL examples are valid operations of the unified schema, and
each needs only scopes that the role the README names for it holds."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import DocumentNode, FieldNode, OperationDefinitionNode, parse, validate

from hub.auth.policy import load_policy
from schema.build import build_schema

README = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
SCHEMA = build_schema()
POLICY = load_policy()


def section() -> str:
    start = README.index("### Governance in GraphQL")
    return README[start : README.index("\n## ", start)]


def operations() -> list[OperationDefinitionNode]:
    blocks = re.findall(r"```graphql\n(.*?)```", section(), flags=re.S)
    return [
        definition
        for block in blocks
        for definition in parse(block).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def runs_with(operation: OperationDefinitionNode, granted: set[str]) -> bool:
    """Every root field of the operation passes its `@requiresScopes` with `granted`."""
    roots = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
    root = roots[operation.operation.value]
    for selection in operation.selection_set.selections:
        assert isinstance(selection, FieldNode)
        rule = SCHEMA.access_rules.fields[f"{root}.{selection.name.value}"]
        if not any(alternative <= granted for alternative in rule.alternatives):
            return False
    return True


def root_names(operation: OperationDefinitionNode) -> set[str]:
    return {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}


def test_every_example_is_a_valid_operation() -> None:
    found = operations()
    assert len(found) >= 14
    for operation in found:
        errors = validate(SCHEMA._schema, DocumentNode(definitions=(operation,)))
        assert errors == [], (operation.loc and operation.loc.source.body[:80], errors)


def test_every_mutation_and_subscription_of_governance_has_an_example() -> None:
    named = {name for operation in operations() for name in root_names(operation)}
    assert {
        "reportCase", "acceptCase", "escalateCase", "assignCase", "resolveCase", "verifyCase",
        "closeCase", "reopenCase", "recordVisit", "recordPatrol", "recordJointMeeting",
        "cases", "kpis", "kpiRanking", "ledger", "caseEvents",
    } <= named  # fmt: skip


def test_the_kpi_examples_run_for_grid_workers_the_dispatcher_and_auditors() -> None:
    kpi_examples = [o for o in operations() if root_names(o) & {"kpis", "kpiRanking", "ledger"}]
    assert kpi_examples
    for role in ("grid_worker", "district_dispatcher", "auditor", "admin"):
        granted = set(POLICY.roles[role].scopes)
        for operation in kpi_examples:
            assert runs_with(operation, granted), role
