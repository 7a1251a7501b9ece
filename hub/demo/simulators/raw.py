"""Canonical demo rows → each department's raw record, and the edits departments make later.

One converter per department record table: it takes the canonical row (the hub's column
names, see `hub.demo.records`) and the resident it belongs to, and returns the record as the
department system holds it, without `updated_at` (the world stamps that). One `touch_*`
function per stream changes a field the way a clerk would while a sync runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hub.clock import add_years
from hub.demo.simulators import codes

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.demo.records import Row

Raw = dict[str, Any]
"""A record in a department's own format (JSON-ready for the APIs, Python values for SQL)."""


def _code(table: Mapping[Any, str], value: object) -> str:
    """The department's code for a canonical enum value (the tables are keyed by enum)."""
    return table[value]


def _date(row: Row, column: str) -> date:
    value = row[column]
    assert isinstance(value, date)
    return value


def _optional_date(row: Row, column: str) -> date | None:
    value = row[column]
    assert value is None or isinstance(value, date)
    return value


# --- health ------------------------------------------------------------------------------------


def family_doctor_contract(row: Row, person: Row) -> Raw:
    return {
        "contract_id": row["source_record_id"],
        "id_card": person["id_number"],
        "name": person["name"],
        "doctor": row["doctor_name"],
        "team": row["team"],
        "org_name": row["institution"],
        "package": row["service_package"],
        "sign_date": codes.iso_date(_date(row, "signed_on")),
        "end_date": codes.iso_date(_optional_date(row, "valid_until")),
        "status": _code(codes.CONTRACT_STATUS, row["status"]),
    }


def vaccination(row: Row, person: Row) -> Raw:
    return {
        "record_id": row["source_record_id"],
        "id_card": person["id_number"],
        "vaccine_name": row["vaccine"],
        "dose": row["dose_number"],
        "vaccination_date": codes.compact_date(_date(row, "administered_on")),
        "unit": row["institution"],
        "batch_no": row["batch_number"],
    }


def chronic_disease(row: Row, person: Row) -> Raw:
    return {
        "record_id": row["source_record_id"],
        "id_card": person["id_number"],
        "disease_name": row["condition"],
        "icd10": row["icd10_code"],
        "diagnosis_date": codes.chinese_date(_optional_date(row, "diagnosed_on")),
        "manage_status": _code(codes.MANAGE_STATUS, row["status"]),
        "last_followup": codes.slash_date(_optional_date(row, "last_follow_up_on")),
    }


# --- police ------------------------------------------------------------------------------------


def _person(person: Row) -> Raw:
    return {
        "sfzh": person["id_number"],
        "xm": person["name"],
        "xb": _code(codes.GENDER, person["gender"]),
        "csrq": codes.compact_date(_date(person, "birth_date")),
        "lxdh": person["phone"],
    }


def household_registration(row: Row, person: Row) -> Raw:
    return (
        {"id": row["source_record_id"]}
        | _person(person)
        | {
            "hh": row["household_number"],
            "yhzgx": _code(codes.RELATION, row["relation_to_head"]),
            "lb": _code(codes.REGISTRATION_TYPE, row["registration_type"]),
            "hjdz": row["registered_address"],
            "jzdz": person["address"],
            "wgbm": person["grid_code"],
            "djrq": codes.iso_date(_date(row, "registered_on")),
            "pcs": row["police_station"],
            "zt": _code(codes.REGISTRATION_STATUS, row["status"]),
        }
    )


def residence_permit(row: Row, person: Row) -> Raw:
    return (
        {"id": row["source_record_id"]}
        | _person(person)
        | {
            "jzdz": person["address"],
            "wgbm": person["grid_code"],
            "zzbh": row["permit_number"],
            "hjd": row["origin_region"],
            "qfrq": codes.iso_date(_date(row, "issued_on")),
            "yxqz": codes.iso_date(_date(row, "valid_until")),
            "pcs": row["police_station"],
            "zt": _code(codes.PERMIT_STATUS, row["status"]),
        }
    )


def person_flag(row: Row, person: Row) -> Raw:
    return {
        "id": row["source_record_id"],
        "sfzh": person["id_number"],
        "lx": _code(codes.FLAG_TYPE, row["flag_type"]),
        "bz": row["note"],
        "lrrq": codes.iso_date(_date(row, "flagged_on")),
        "yx": bool(row["active"]),
    }


# --- social security (SQL rows: Python values, not strings) ------------------------------------


def insurance_enrollment(row: Row, person: Row) -> Raw:
    return {
        "aac001": row["source_record_id"],
        "aac002": person["id_number"],
        "aac003": person["name"],
        "aae140": _code(codes.INSURANCE_TYPE, row["insurance_type"]),
        "xzlx": _code(codes.INSURANCE_SCHEME, row["scheme"]),
        "aac008": _code(codes.ENROLLMENT_STATUS, row["status"]),
        "aae030": _date(row, "enrolled_on"),
        "aab004": row["employer"],
    }


def assistance_grant(row: Row, person: Row) -> Raw:
    return {
        "id": row["source_record_id"],
        "id_card": person["id_number"],
        "name": person["name"],
        "grant_type": _code(codes.GRANT_TYPE, row["assistance_type"]),
        "amount": row["monthly_amount"],
        "start_date": _date(row, "start_on"),
        "end_date": _optional_date(row, "end_on"),
        "status": _code(codes.GRANT_STATUS, row["status"]),
    }


# --- education (spreadsheet cells; grade stays a number) ---------------------------------------


def school_enrollment(row: Row, person: Row) -> Raw:
    return {
        "学籍号": row["source_record_id"],
        "身份证号": person["id_number"],
        "姓名": person["name"],
        "学校名称": row["school"],
        "学段": _code(codes.SCHOOL_STAGE, row["stage"]),
        "年级": row["grade"],
        "班级": row["class_name"],
        "学籍状态": _code(codes.SCHOOL_STATUS, row["status"]),
        "入学日期": codes.slash_date(_date(row, "enrolled_on")),
    }


# --- edits made while a sync runs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit may draw on: the day it happens (China time) and the world's RNG."""

    today: date
    rng: random.Random


def touch_contract(record: Raw, edit: Edit) -> None:
    """A contract is cancelled, or a cancelled or lapsed one signed again."""
    if record["status"] == "有效":
        record["status"] = "解约"
        return
    record["status"] = "有效"
    record["sign_date"] = edit.today.isoformat()
    record["end_date"] = (add_years(edit.today, 1) - timedelta(days=1)).isoformat()


def touch_vaccination(record: Raw, edit: Edit) -> None:
    """The clinic corrects a mistyped batch number."""
    record["batch_no"] = f"{edit.today.year}{edit.rng.randrange(1_000_000):06d}"


def touch_chronic(record: Raw, edit: Edit) -> None:
    """A follow-up visit is recorded, which puts the patient under regular management."""
    record["manage_status"] = "规范管理"
    record["last_followup"] = codes.slash_date(edit.today)


def touch_household(record: Raw, edit: Edit) -> None:
    """The resident reports a new phone number."""
    record["lxdh"] = f"1{edit.rng.choice('3578')}{edit.rng.randrange(10**9):09d}"


def touch_permit(record: Raw, edit: Edit) -> None:
    """The permit is renewed for another year."""
    record["qfrq"] = edit.today.isoformat()
    record["yxqz"] = (add_years(edit.today, 1) - timedelta(days=1)).isoformat()
    record["zt"] = "有效"


def touch_flag(record: Raw, edit: Edit) -> None:
    """The flag is lifted, or put back."""
    record["yx"] = not record["yx"]


def touch_enrollment(record: Raw, edit: Edit) -> None:
    """Contributions stop (暂停) or resume (正常参保)."""
    record["aac008"] = "2" if record["aac008"] == "1" else "1"


def touch_grant(record: Raw, edit: Edit) -> None:
    """The grant is suspended at review, or resumed."""
    record["status"] = "暂停" if record["status"] == "在保" else "在保"


def touch_school(record: Raw, edit: Edit) -> None:
    """The pupil moves to another class."""
    record["班级"] = f"{edit.rng.randint(1, 12)}班"


def add_typing_noise(record: Raw, rng: random.Random) -> None:
    """What hand-kept spreadsheets do: trailing (full-width) spaces, a lower-case x, padding.

    Every change survives the hub's normalisation (`str.strip`, `normalize_id_number`), so the
    record still matches its canonical row.
    """
    draw = rng.random()
    if draw < 0.03:
        record["姓名"] = record["姓名"] + rng.choice((" ", "\u3000", "  "))
    elif draw < 0.04 and record["身份证号"].endswith("X"):
        record["身份证号"] = record["身份证号"][:-1] + "x"
    elif draw < 0.05:
        record["身份证号"] = f" {record['身份证号']} "
