"""Declarative mapping: date formats, code tables, full-width input, trimming; errors name the field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.config import StreamBase, load_config, parse_config, parse_duration
from connectors.errors import BadRecordError, ConfigError
from connectors.mapping import RecordMapping, parse_timezone
from tests.connectors.support import CODE_TABLES, id_number, stream_config

CHINA = parse_timezone("+08:00")
EXAMPLE = Path(__file__).resolve().parents[2] / "connectors" / "examples" / "example.toml"


def grant_mapping(**field_overrides: Any) -> RecordMapping:
    fields: dict[str, Any] = {
        "source_record_id": "编号",
        "source_updated_at": "更新时间",
        "id_number": "身份证号",
        "assistance_type": {
            "path": "救助类型",
            "codes": {"低保": "SUBSISTENCE_ALLOWANCE", "特困": "EXTREME_POVERTY"},
        },
        "monthly_amount": "月金额",
        "start_on": "开始日期",
        "end_on": "结束日期",
        "status": {"path": "状态", "codes": {"正常": "ACTIVE", "停发": "SUSPENDED"}},
    } | field_overrides
    return RecordMapping(
        stream_config(fields, target="assistance_grant"), code_tables=CODE_TABLES, zone=CHINA
    )


def grant_row(**overrides: Any) -> dict[str, Any]:
    row = {
        "编号": "DB-1", "更新时间": "2024-03-05 08:30:00", "身份证号": id_number(1),
        "救助类型": "低保", "月金额": "¥1,234.50", "开始日期": "2024-03-05", "结束日期": "",
        "状态": "正常",
    }  # fmt: skip
    return row | overrides


@pytest.mark.parametrize(
    "text",
    [
        "2024年3月5日",
        "2024年03月05日",
        "2024/3/5",
        "2024/03/05",
        "20240305",
        "2024-03-05",
        "2024-3-5",
        "2024.3.5",
    ],
)
def test_every_default_date_format_reads_the_same_day(text: str) -> None:
    mapped = grant_mapping().apply(grant_row(开始日期=text))
    assert mapped.record.start_on == date(2024, 3, 5)  # type: ignore[attr-defined]


def test_a_field_with_its_own_formats_accepts_only_those() -> None:
    mapping = grant_mapping(start_on={"path": "开始日期", "formats": ["%Y年%m月%d日"]})
    assert mapping.apply(grant_row(开始日期="2024年3月5日")).record.start_on == date(2024, 3, 5)  # type: ignore[attr-defined]
    with pytest.raises(BadRecordError) as raised:
        mapping.apply(grant_row(开始日期="2024-03-05"))
    assert raised.value.errors[0]["loc"] == ["start_on"]
    assert "%Y年%m月%d日" in raised.value.errors[0]["msg"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05 08:30:00", datetime(2024, 3, 5, 0, 30, tzinfo=UTC)),
        ("2024-03-05T08:30:00+08:00", datetime(2024, 3, 5, 0, 30, tzinfo=UTC)),
        ("2024-03-05T00:30:00Z", datetime(2024, 3, 5, 0, 30, tzinfo=UTC)),
        ("20240305083000", datetime(2024, 3, 5, 0, 30, tzinfo=UTC)),
    ],
    ids=["naive-local", "offset", "zulu", "compact"],
)
def test_timestamps_without_a_zone_are_the_sources_local_time(
    text: str, expected: datetime
) -> None:
    assert grant_mapping().apply(grant_row(更新时间=text)).source_updated_at == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("¥1,234.50", Decimal("1234.50")),
        ("８００", Decimal(800)),
        (" 600.5元 ", Decimal("600.5")),
        (950, Decimal(950)),
    ],
    ids=["yuan-sign-and-comma", "full-width-digits", "trailing-unit", "number"],
)
def test_amounts_are_exact_decimals(raw: Any, expected: Decimal) -> None:
    assert grant_mapping().apply(grant_row(月金额=raw)).record.monthly_amount == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "expected"), [("低保", "SUBSISTENCE_ALLOWANCE"), (" 特困 ", "EXTREME_POVERTY"), ("EXTREME_POVERTY", "EXTREME_POVERTY")],
    ids=["code", "code-with-spaces", "hub-code-passes"],
)  # fmt: skip
def test_code_tables_translate_department_codes(raw: str, expected: str) -> None:
    assert grant_mapping().apply(grant_row(救助类型=raw)).record.assistance_type == expected  # type: ignore[attr-defined]


def test_shared_code_tables_are_referenced_by_name() -> None:
    fields = {
        "source_record_id": "id", "source_updated_at": "t", "id_number": "n", "registration_type": {"value": "FAMILY"},
        "household_number": "hh", "relation_to_head": {"path": "r", "codes": "relation"}, "registered_address": "a",
        "registered_on": "d", "police_station": "p", "status": {"value": "ACTIVE"},
    }  # fmt: skip
    resident = {"gender": {"path": "xb", "codes": "gender"}, "grid_code": "g", "name": "xm"}
    config = stream_config(fields, target="household_registration", resident=resident)
    mapping = RecordMapping(config, code_tables=CODE_TABLES, zone=CHINA)
    raw = {
        "id": "1",
        "t": "2024-01-01",
        "n": id_number(1),
        "hh": "H",
        "r": "02",
        "a": "x",
        "d": "20200101",
        "p": "x",
        "xb": 2,
        "g": "1",
        "xm": "王五",
    }
    mapped = mapping.apply(raw)
    record: Any = mapped.record
    assert (record.relation_to_head, mapped.resident and mapped.resident.gender) == (
        "SPOUSE",
        "FEMALE",
    )


def test_full_width_text_becomes_half_width_and_is_trimmed() -> None:
    mapped = grant_mapping().apply(
        grant_row(
            编号="\u3000ＤＢ－００１ ",
            身份证号=" " + id_number(1).translate({48 + n: 0xFF10 + n for n in range(10)}),
        )
    )
    assert mapped.source_record_id == "DB-001"
    assert mapped.id_number == id_number(1)


def test_full_width_conversion_can_be_turned_off_per_field() -> None:
    mapping = grant_mapping(source_record_id={"path": "编号", "halfwidth": False, "trim": False})
    assert mapping.apply(grant_row(编号=" ＤＢ１")).source_record_id == " ＤＢ１"


@pytest.mark.parametrize(
    ("raw", "expected"), [("是", True), ("否", False), ("Y", True), ("0", False), (True, True)]
)
def test_booleans_read_chinese_and_english_words(raw: Any, expected: bool) -> None:
    fields = {
        "source_record_id": "id",
        "source_updated_at": "t",
        "id_number": "n",
        "flag_type": {"value": "PETITIONER"},
        "flagged_on": "d",
        "active": "有效",
    }
    mapping = RecordMapping(stream_config(fields, target="person_flag"), code_tables={}, zone=CHINA)
    raw_record = {"id": "1", "t": "2024-01-01", "n": "x", "d": "20240101", "有效": raw}
    assert mapping.apply(raw_record).record.active is expected  # type: ignore[attr-defined]


def test_dotted_paths_walk_nested_objects_and_lists() -> None:
    mapping = grant_mapping(id_number="person.ids.0", monthly_amount="amount.value")
    mapped = mapping.apply(grant_row(person={"ids": [id_number(2)]}, amount={"value": "10"}))
    assert (mapped.id_number, mapped.record.monthly_amount) == (id_number(2), Decimal(10))  # type: ignore[attr-defined]


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(BadRecordError) as raised:
        grant_mapping().apply(grant_row(开始日期="昨天", 救助类型="低收入", 月金额="很多", 编号=""))
    locs = sorted(".".join(e["loc"]) for e in raised.value.errors)
    assert locs == ["assistance_type", "monthly_amount", "source_record_id", "start_on"]
    assert "start_on" in str(raised.value)


def test_pydantic_constraints_are_reported_per_field() -> None:
    with pytest.raises(BadRecordError) as raised:
        grant_mapping().apply(grant_row(月金额="-5"))
    (error,) = raised.value.errors
    assert (error["loc"], error["type"]) == (["monthly_amount"], "greater_than_equal")


CONFIG_ERRORS = [
    pytest.param({"connectors": {"x": {"kind": "ftp"}}}, "connectors.x", id="unknown-kind"),
    pytest.param(
        {"connectors": {"h": {"kind": "http", "base_url": "http://x", "streams": {"s": {
            "path": "/", "pagination": {"style": "page"}, "target": "vaccination",
            "fields": {"source_record_id": "id", "source_updated_at": "t", "id_number": "n", "vaccine": "v"}}}}}},
        "connectors.h.streams.s.fields: missing mapping for dose_number, administered_on", id="missing-field",
    ),
    pytest.param(
        {"connectors": {"h": {"kind": "http", "base_url": "http://x", "auth": {"type": "oauth2", "client_id": "c"}, "streams": {}}}},
        "connectors.h.auth.token_url: Field required", id="oauth-missing-token-url",
    ),
    pytest.param(
        {"connectors": {"s": {"kind": "sql", "url": "sqlite+aiosqlite://", "streams": {"t": {
            "table": "t", "query": "select 1", "watermark_column": "u", "key_column": "id", "target": "vaccination",
            "fields": {}}}}}},
        "connectors.s.streams.t", id="table-and-query",
    ),
    pytest.param(
        {"connectors": {"f": {"kind": "files", "directory": ".", "interval": "soon", "streams": {}}}},
        "connectors.f.interval", id="bad-interval",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "where"), CONFIG_ERRORS)
def test_config_errors_name_the_key_path(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, origin="hub.toml")
    assert f"hub.toml: {where}" in str(raised.value)


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text("[connectors.x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"connectors\.toml: not valid TOML"):
        load_config(path)


def test_the_example_file_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert {source.kind for source in config.connectors.values()} == {"http", "sql", "files"}


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("1h30m", 5400), ("2d", 172800), ("45s", 45)]
)
def test_intervals_read_like_people_write_them(text: str, seconds: int) -> None:
    value = parse_duration(text)
    assert getattr(value, "total_seconds", lambda: None)() == seconds


def test_a_stream_must_say_which_fields_it_maps() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        StreamBase.model_validate({"target": "vaccination", "fields": {"vacine": "v"}})
