"""The access decision, as data: every declared rule against every shipped role."""

from __future__ import annotations

import pytest

from hub.auth.policy import NON_RESIDENT_SCOPES, load_policy
from schema.access import AccessRules, ArgumentRule, FieldRule, decide, decide_argument
from schema.build import SUBGRAPHS, build_schema
from schema.errors import FORBIDDEN, PURPOSE_REQUIRED

POLICY = load_policy()
RULES = AccessRules.from_schema(build_schema())
ROLE_SCOPES = {name: role.scopes for name, role in POLICY.roles.items()}


def test_the_table_holds_every_declared_field_and_the_id_number_argument() -> None:
    assert RULES.fields["PoliceProfile.flags"].alternatives == (frozenset({"police:sensitive"}),)
    assert RULES.fields["Resident.idNumber"].alternatives == (frozenset({"resident:pii"}),)
    assert RULES.fields["Query.auditEvents"].alternatives == (frozenset({"audit:read"}),)
    assert "Resident.id" not in RULES.fields  # the key is public: no declaration, no rule
    [argument] = RULES.arguments["Query.resident"]
    assert argument == ArgumentRule("Query.resident(idNumber:)", "idNumber", "resident:pii")


def test_resident_data_is_every_rule_beyond_grid_audit_and_admin_scopes() -> None:
    assert RULES.fields["Resident.name"].resident_data
    assert RULES.fields["HealthProfile.chronicConditions"].resident_data
    assert not RULES.fields["Grid.members"].resident_data
    assert not RULES.fields["Query.auditChainStatus"].resident_data


@pytest.mark.parametrize("role", sorted(ROLE_SCOPES))
@pytest.mark.parametrize("coordinate", sorted(RULES.fields))
def test_every_role_gets_the_decision_its_scopes_and_purpose_imply(
    role: str, coordinate: str
) -> None:
    rule = RULES.fields[coordinate]
    scopes = ROLE_SCOPES[role]
    holds = any(needed <= scopes for needed in rule.alternatives)

    with_purpose = decide(rule, scopes, has_purpose=True)
    without_purpose = decide(rule, scopes, has_purpose=False)

    if not holds:
        assert with_purpose is not None
        assert with_purpose.code == FORBIDDEN
        assert without_purpose is not None
        assert without_purpose.code == FORBIDDEN
        assert coordinate in with_purpose.message
    else:
        assert with_purpose is None
        needs_purpose = any(needed - NON_RESIDENT_SCOPES for needed in rule.alternatives)
        if needs_purpose:
            assert without_purpose is not None
            assert without_purpose.code == PURPOSE_REQUIRED
        else:
            assert without_purpose is None


@pytest.mark.parametrize(
    ("role", "coordinate", "expected"),
    [
        pytest.param("grid_worker", "PoliceProfile.flags", FORBIDDEN, id="worker-police-flags"),
        pytest.param(
            "grid_worker", "HealthProfile.chronicConditions", FORBIDDEN, id="worker-chronic"
        ),
        pytest.param("grid_worker", "Resident.phone", None, id="worker-phone"),
        pytest.param("health_officer", "Resident.police", FORBIDDEN, id="health-police"),
        pytest.param(
            "health_officer", "HealthProfile.chronicConditions", None, id="health-chronic"
        ),
        pytest.param("police_officer", "PoliceProfile.flags", None, id="police-flags"),
        pytest.param("auditor", "Resident.name", FORBIDDEN, id="auditor-name"),
        pytest.param("auditor", "Query.auditEvents", None, id="auditor-events"),
        pytest.param("admin", "Query.residents", FORBIDDEN, id="admin-residents"),
        pytest.param("admin", "Grid.members", None, id="admin-board"),
    ],
)
def test_examples_from_the_role_table(role: str, coordinate: str, expected: str | None) -> None:
    refusal = decide(RULES.fields[coordinate], ROLE_SCOPES[role], has_purpose=True)
    assert (refusal.code if refusal else None) == expected


def test_an_argument_rule_refuses_only_when_the_argument_is_given() -> None:
    [rule] = RULES.arguments["Query.resident"]
    basic = frozenset({"resident:basic"})

    refused = decide_argument(rule, basic, {"idNumber": "410105198001010011", "id": None})

    assert refused is not None
    assert refused.code == FORBIDDEN
    assert "Query.resident(idNumber:)" in refused.message
    assert "resident:pii" in refused.message
    assert decide_argument(rule, basic, {"id": "r-1", "idNumber": None}) is None
    assert decide_argument(rule, basic | {"resident:pii"}, {"idNumber": "x"}) is None


def test_alternatives_are_any_of() -> None:
    rule = FieldRule("T.f", (frozenset({"a", "b"}), frozenset({"c"})), resident_data=True)

    assert decide(rule, frozenset({"c"}), has_purpose=True) is None
    assert decide(rule, frozenset({"a", "b"}), has_purpose=True) is None
    refused = decide(rule, frozenset({"a"}), has_purpose=True)
    assert refused is not None
    assert "a + b or c" in refused.message


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_every_subgraph_has_its_table_built_with_it(name: str) -> None:
    subgraph = build_schema(name)
    assert subgraph.access_rules.fields, f"{name} declares no rules"
    assert set(subgraph.access_rules.fields) <= set(RULES.fields)
