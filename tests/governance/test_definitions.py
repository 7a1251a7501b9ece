"""What README promises about governance is what the code declares: KPI definitions, life cycle."""

from __future__ import annotations

import re
from pathlib import Path

from hub.governance import states
from hub.governance.kpis import KPIS

README = (Path(__file__).parents[2] / "README.md").read_text("utf-8")


def test_readme_states_every_kpi_definition_exactly_as_declared() -> None:
    for kpi in KPIS:
        row = f"| `{kpi.name}` | {kpi.title} | {'rate' if kpi.rate else 'count'} | "
        assert row + kpi.description + " |" in README, kpi.name


def test_every_kpi_sql_reads_only_the_documented_parameters() -> None:
    documented = {"start_at", "end_at", "start_day", "end_day", "year_start", "now",
                  "last_day", "days", "lo", "hi"}  # fmt: skip
    for kpi in KPIS:
        used = set(re.findall(r"(?<!:):([a-z_]+)", kpi.sql))
        assert used <= documented, (kpi.name, used - documented)
        assert kpi.sql.count("SELECT") >= 1
        assert ":lo" in kpi.sql
        assert ":hi" in kpi.sql, kpi.name


def _table(text: str) -> list[str]:
    """The rows of the first drawn transition table in `text`, whitespace normalised."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("state "))
    rows = []
    for line in lines[first + 1 :]:
        if not line.strip() or line.strip().startswith("```"):
            break
        if not line.strip().startswith("─"):
            rows.append(re.sub(r"\s+", " ", line.strip()))
    return rows


def test_readme_draws_the_same_life_cycle_table_as_the_code() -> None:
    assert states.__doc__ is not None
    drawn = _table(states.__doc__)

    assert len(drawn) == len(states.TRANSITIONS) + 1  # one row spans two lines
    assert _table(README.split("**Life cycle.**", 1)[1]) == drawn
