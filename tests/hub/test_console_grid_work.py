"""The grid console's governance parts: documents valid against the hub's own schema, cases
ordered overdue first, KPI figures shown as the page shows them."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from graphql import parse, validate

from hub.consoles import grid
from hub.consoles.grid import RESIDENTS
from hub.consoles.grid_work import (
    CASES,
    CASES_SHOWN,
    DUE,
    KPI_FIELDS,
    KPIS,
    PATROLS,
    cases_shown,
    due_by,
    kpi_row,
    overdue_first,
)
from hub.consoles.i18n import MESSAGES
from hub.governance.enums import CaseCategory, CaseState
from schema.build import build_schema


@pytest.mark.parametrize("document", [RESIDENTS, DUE, CASES, PATROLS, KPIS])
def test_every_document_of_the_grid_console_is_valid_against_the_unified_schema(
    document: str,
) -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(document)) == []


def test_overdue_cases_come_first_then_by_deadline_then_those_without_one() -> None:
    edges = [
        {"node": {"id": "a", "overdue": False, "dueAt": None}},
        {"node": {"id": "b", "overdue": False, "dueAt": "2026-12-03T00:00:00+00:00"}},
        {"node": {"id": "c", "overdue": True, "dueAt": "2026-09-01T00:00:00+00:00"}},
        {"node": {"id": "d", "overdue": False, "dueAt": "2026-12-02T00:00:00+00:00"}},
        {"node": {"id": "e", "overdue": True, "dueAt": "2026-08-01T00:00:00+00:00"}},
    ]
    assert [n["id"] for n in overdue_first(edges)] == ["e", "c", "d", "b", "a"]


def test_an_overdue_case_beyond_the_first_page_of_open_cases_is_still_shown_first() -> None:
    fresh = [
        {
            "node": {
                "id": f"n{i}",
                "overdue": False,
                "dueAt": f"2026-12-{10 + i % 20:02d}T00:00:00+00:00",
            }
        }
        for i in range(CASES_SHOWN)
    ]
    old = {"node": {"id": "late", "overdue": True, "dueAt": "2026-01-05T00:00:00+00:00"}}
    shown = cases_shown({"edges": [old]}, {"edges": fresh})
    assert len(shown) == CASES_SHOWN
    assert shown[0]["id"] == "late"
    assert len({node["id"] for node in shown}) == CASES_SHOWN  # listed once, though on both pages


def test_a_missing_page_of_cases_shows_what_the_other_holds() -> None:
    case = {"node": {"id": "a", "overdue": False, "dueAt": None}}
    assert [n["id"] for n in cases_shown(None, {"edges": [case]})] == ["a"]
    assert cases_shown(None, None) == []


def test_kpi_figures_show_rates_as_percentages_counts_as_numbers_and_gaps_as_a_dash() -> None:
    rate = kpi_row("visitCoverage", {"numerator": 1, "denominator": 44, "value": 1 / 44})
    assert (rate["value"], rate["detail"]) == ("2%", "1/44")
    assert kpi_row("visits", {"numerator": 7, "denominator": 0, "value": 7.0})["value"] == "7"
    assert (
        kpi_row("workSatisfactionRate", {"numerator": 0, "denominator": 0, "value": None})["value"]
        == "—"
    )
    assert kpi_row("groupAppealHandlingRate", None)["value"] == "—"


def test_a_household_due_a_visit_is_due_by_the_years_last_day() -> None:
    assert due_by(date(2026, 3, 5)) == "2026-12-31"


def test_every_word_of_the_grid_page_states_and_categories_has_chinese_and_english() -> None:
    template = (Path(grid.__file__).parent / "templates" / "grid.html").read_text("utf-8")
    keys = set(re.findall(r't\("([^"]+)"\)', template))
    keys |= {str(k) for k in (*CaseState, *CaseCategory)} | {*KPI_FIELDS}
    missing = {key for key in keys if not all(MESSAGES.get(key, ("", "")))}
    assert missing == set()
