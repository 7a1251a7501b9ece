"""KPIs through GraphQL: the demo month's figures for every grid, as an auditor reads them,
equal the independent computation of tests/governance/test_kpi_reconciliation.py; each KPI
field describes the KPI exactly as it is computed; siblings rank by their values."""

from __future__ import annotations

from typing import Any

from hub.governance.kpis import KPIS
from schema.governance.enums import KpiName
from schema.governance.kpis import ATTRIBUTE_OF
from tests.auth.test_authorization_matrix import object_type
from tests.conftest import Clients
from tests.governance.test_kpi_reconciliation import Rows, by_hand
from tests.governance.test_kpi_reconciliation import month as demo_month

__all__ = ["demo_month"]

FIGURES = " ".join(f"{kpi.name} {{ numerator denominator value }}" for kpi in KPIS)
TREE = f"""
query Tree($grid: ID!) {{
  kpis(grid: $grid, period: {{month: "2026-08"}}) {{
    grid {{ code level }} start end {FIGURES}
    children {{ grid {{ code }} {FIGURES}
      children {{ grid {{ code }} {FIGURES}
        children {{ grid {{ code }} {FIGURES} }} }} }}
  }}
}}"""


def flattened(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {node["grid"]["code"]: node}
    for child in node.get("children") or ():
        found.update(flattened(child))
    return found


async def test_kpis_read_through_graphql_reconcile_with_the_definitions_at_every_grid(
    demo_month: Rows, clients: Clients
) -> None:
    expected = by_hand(demo_month)
    auditor = await clients.graphql("auditor", purpose=None)  # aggregates: no purpose needed

    result = await auditor(TREE, {"grid": "410105"})

    assert "errors" not in result, result
    root = result["data"]["kpis"]
    assert (root["start"], root["end"], root["grid"]["level"]) == (
        "2026-08-01", "2026-08-31", "DISTRICT"
    )  # fmt: skip
    served = flattened(root)
    assert set(served) == set(expected)
    mismatches = [
        (code, kpi.name, figures, served[code][kpi.name])
        for code, names in expected.items()
        for kpi in KPIS
        if (figures := names[kpi.name])
        != (served[code][kpi.name]["numerator"], served[code][kpi.name]["denominator"])
    ]
    assert mismatches == []
    district = served["410105"]
    for kpi in KPIS:
        numerator, denominator = expected["410105"][kpi.name]
        value = district[kpi.name]["value"]
        assert value == (numerator / denominator if kpi.rate else numerator), kpi.name


async def test_siblings_rank_through_graphql_as_their_values_say(
    demo_month: Rows, clients: Clients
) -> None:
    expected = by_hand(demo_month)
    dispatcher = await clients.graphql("district_dispatcher", purpose=None)
    document = """query($kpi: KpiName!) {
      kpiRanking(grid: "410105", kpi: $kpi, period: {month: "2026-08"}) {
        rank grid { code } value { numerator denominator value } } }"""

    coverage = (await dispatcher(document, {"kpi": "VISIT_COVERAGE"}))["data"]["kpiRanking"]
    overdue = (await dispatcher(document, {"kpi": "CASES_OVERDUE"}))["data"]["kpiRanking"]

    rates = [expected[r["grid"]["code"]]["visitCoverage"] for r in coverage]
    assert [num / den for num, den in rates] == sorted((n / d for n, d in rates), reverse=True)
    counts = [expected[r["grid"]["code"]]["casesOverdue"][0] for r in overdue]
    assert counts == sorted(counts)
    assert coverage[0]["rank"] == overdue[0]["rank"] == 1
    assert len(coverage) == sum(1 for g in demo_month.grids if g.level == "STREET")


def test_each_kpi_field_is_described_by_its_definition_exactly_as_computed() -> None:
    fields = object_type("GridKpis").fields

    for kpi in KPIS:
        description = fields[kpi.name].description or ""
        assert kpi.description in description, kpi.name
        assert kpi.title in description, kpi.name
    assert set(ATTRIBUTE_OF) == {kpi.name for kpi in KPIS}
    assert {member.value for member in KpiName} == {kpi.name for kpi in KPIS}
