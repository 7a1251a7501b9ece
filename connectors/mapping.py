"""Declarative field mapping: read a raw record's fields, clean and convert them, validate the result.

A stream's `fields` (and `resident`) tables say where each target field comes from; the
conversion follows the target field's type unless the spec names one. Every failure is
collected and reported per field, so a quarantined record says exactly what to fix.

Every value is range-checked here, before it can reach a database: whole numbers fit a
32-bit column, decimals are finite, times convert to UTC, text holds no control
characters or unpaired surrogates, record ids fit their column, and an object or list
where a value is expected is refused rather than stored as its Python repr.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from pydantic import ValidationError

from connectors.config import FieldSpec, FieldValue, StreamBase
from connectors.errors import BadRecordError
from connectors.targets import TARGETS, ResidentFields, TargetRecord

DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
DEFAULT_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S")
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "是", "有", "有效"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "否", "无", "无效"})
# Full-width ASCII (U+FF01–U+FF5E) sits at a fixed offset from ASCII; U+3000 is the ideographic space.
_HALF_WIDTH = {0xFF01 + n: 0x21 + n for n in range(94)} | {0x3000: 0x20}
_AMOUNT_NOISE = str.maketrans("", "", ",¥￥元 ")
INT_RANGE = (-(2**31), 2**31 - 1)  # the storage models' Integer columns (PostgreSQL int4)
RECORD_ID_MAX = 128  # the source_record_id column
# C0 controls other than tab, newline and carriage return, DEL, and UTF-16 surrogates (which
# JSON `\ud800` escapes can produce but UTF-8 cannot encode): PostgreSQL refuses NUL in text.
_FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

Converter = Callable[[Any], Any]


class FieldError(ValueError):
    """A value that does not convert; the message says what was expected."""


@dataclass(frozen=True)
class MappedRecord:
    """A raw record mapped and validated; `id_number` is still as the source wrote it."""

    source_record_id: str
    source_updated_at: datetime
    id_number: str
    record: TargetRecord
    resident: ResidentFields | None


def to_half_width(text: str) -> str:
    return text.translate(_HALF_WIDTH)


def parse_timezone(offset: str) -> timezone:
    """`+08:00` style offsets: department systems write local time without saying so."""
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def extract(raw: Mapping[str, Any], path: str) -> Any:
    """A key as written (CSV headers may contain dots), else a dotted walk through dicts and lists."""
    if path in raw:
        return raw[path]
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _clean(value: Any, spec: FieldSpec) -> Any:
    if isinstance(value, str):
        value = to_half_width(value) if spec.halfwidth else value
        value = value.strip() if spec.trim else value
        return value or None
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping | list):
        kind = "an object" if isinstance(value, Mapping) else "a list"
        raise FieldError(f"expected a single value, got {kind}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets hand whole numbers back as floats
    return str(value)


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        raise FieldError("expected text, got a boolean")
    text = _as_text(value)
    if bad := _FORBIDDEN_TEXT.search(text):
        raise FieldError(f"text holds the control character {bad.group()!r}; fix the source")
    return text


def _to_record_id(value: Any) -> str:
    text = _to_text(value)
    if len(text) > RECORD_ID_MAX:
        raise FieldError(f"a record id of {len(text)} characters; at most {RECORD_ID_MAX}")
    return text


def _finite_number(value: Any, expected: str) -> Decimal:
    try:
        number = Decimal(_as_text(value).translate(_AMOUNT_NOISE))
    except InvalidOperation:
        raise FieldError(f"expected {expected}, got {_shown(value)}") from None
    if not number.is_finite():
        raise FieldError(f"expected {expected}, got {_shown(value)}")
    return number


def _shown(value: Any) -> str:
    """A value for an error message: repr (control characters escaped), at most 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}…"


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("expected a whole number, got a boolean")
    number = _finite_number(value, "a whole number")
    if number != number.to_integral_value():
        raise FieldError(f"expected a whole number, got {_shown(value)}")
    low, high = INT_RANGE
    # adjusted() first: int() of 1e999999999 would build a billion-digit number
    if number.adjusted() > 10 or not low <= int(number) <= high:
        raise FieldError(f"{_shown(value)} is out of range ({low} to {high})")
    return int(number)


def _to_decimal(value: Any) -> Decimal:
    return _finite_number(value, "a decimal amount")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _as_text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError(f"expected a yes/no value, got {value!r}")


def _date_parser(formats: tuple[str, ...]) -> Converter:
    def to_date(value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _as_text(value)
        for pattern in formats:
            try:
                return datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a civil date
            except ValueError:
                continue
        raise FieldError(f"{_shown(text)} matches none of the date formats {', '.join(formats)}")

    return to_date


def _datetime_parser(formats: tuple[str, ...], zone: timezone) -> Converter:
    def to_datetime(value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if parsed is None:
            parsed = _parse_datetime_text(_as_text(value), formats)
        if parsed is None:
            shown = _shown(_as_text(value))
            raise FieldError(f"{shown} is not ISO 8601 and matches none of {', '.join(formats)}")
        return _in_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone), value)

    return to_datetime


def _in_utc(moment: datetime, value: Any) -> datetime:
    """UTC now, so a time at the calendar's edge fails here and not in the database."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldError(f"{_shown(value)} is out of the range of times") from None


def _parse_datetime_text(text: str, formats: tuple[str, ...]) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in formats:
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007 - zone added by the caller
        except ValueError:
            continue
    return None


def _code_lookup(table: Mapping[str, str], enum_type: type[Enum] | None) -> Converter:
    def lookup(value: Any) -> str:
        key = _as_text(value)
        if key in table:
            return table[key]
        if enum_type is not None and key in enum_type.__members__:
            return key  # already the hub's code
        raise FieldError(f"{key!r} is not in the code table (known: {', '.join(table)})")

    return lookup


def _field_type(model: type[TargetRecord], name: str) -> Any:
    """The non-None type of a model field (`date | None` → `date`)."""
    annotation = model.model_fields[name].annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = (a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


_BY_TYPE_NAME: dict[str, type] = {
    "str": str, "int": int, "decimal": Decimal, "bool": bool, "date": date, "datetime": datetime,
}  # fmt: skip


def build_converter(
    spec: FieldSpec,
    field_type: Any,
    *,
    code_tables: Mapping[str, Mapping[str, str]],
    zone: timezone,
) -> Converter:
    """Pick the conversion for one field once, when the stream is built, not per record."""
    if spec.codes is not None:
        table = code_tables[spec.codes] if isinstance(spec.codes, str) else spec.codes
        enum_type = (
            field_type if isinstance(field_type, type) and issubclass(field_type, Enum) else None
        )
        return _code_lookup(table, enum_type)
    wanted = _BY_TYPE_NAME[spec.type] if spec.type else field_type
    formats = tuple(spec.formats) if spec.formats else None
    if wanted is datetime:
        return _datetime_parser(formats or DEFAULT_DATETIME_FORMATS, zone)
    if wanted is date:
        return _date_parser(formats or DEFAULT_DATE_FORMATS)
    simple: dict[Any, Converter] = {bool: _to_bool, int: _to_int, Decimal: _to_decimal}
    if wanted in simple:
        return simple[wanted]
    return _to_text  # text, and enums by their hub code; pydantic checks the value


@dataclass(frozen=True)
class FieldRule:
    """One compiled field: where to read it and how to convert it."""

    name: str
    spec: FieldSpec
    convert: Converter

    def read(self, raw: Mapping[str, Any]) -> Any:
        value = self.spec.value if self.spec.path is None else extract(raw, self.spec.path)
        value = _clean(value, self.spec)
        if value is None:
            return self.spec.default
        return self.convert(value)


def _spec(value: FieldValue) -> FieldSpec:
    return FieldSpec(path=value) if isinstance(value, str) else value


_PROVENANCE_TYPES: dict[str, type] = {
    "source_record_id": str, "source_updated_at": datetime, "id_number": str,
}  # fmt: skip


class RecordMapping:
    """A stream's compiled mapping: `apply(raw)` gives a MappedRecord or raises BadRecordError."""

    def __init__(
        self,
        stream: StreamBase,
        *,
        code_tables: Mapping[str, Mapping[str, str]],
        zone: timezone,
    ) -> None:
        self.model = TARGETS[stream.target]
        self.creates_residents = stream.creates_residents
        self._record_rules = self._compile(stream.fields, self.model, code_tables, zone)
        self._resident_rules = self._compile(stream.resident, ResidentFields, code_tables, zone)

    @staticmethod
    def _compile(
        fields: Mapping[str, FieldValue],
        model: type[TargetRecord],
        code_tables: Mapping[str, Mapping[str, str]],
        zone: timezone,
    ) -> list[FieldRule]:
        rules = []
        for name, value in fields.items():
            spec = _spec(value)
            field_type = _PROVENANCE_TYPES.get(name) or _field_type(model, name)
            convert = build_converter(spec, field_type, code_tables=code_tables, zone=zone)
            if name == "source_record_id" and spec.type in (None, "str") and spec.codes is None:
                convert = _to_record_id
            rules.append(FieldRule(name, spec, convert))
        return rules

    def record_key(self, raw: Mapping[str, Any]) -> str | None:
        """The source record id if the payload yields a valid one (quarantine keys, watermarks)."""
        try:
            value = self._read_one("source_record_id", raw)
        except FieldError:
            return None
        return None if value is None else str(value)

    def updated_at(self, raw: Mapping[str, Any]) -> datetime | None:
        try:
            value = self._read_one("source_updated_at", raw)
        except FieldError:
            return None
        return value if isinstance(value, datetime) else None

    def _read_one(self, name: str, raw: Mapping[str, Any]) -> Any:
        (rule,) = (r for r in self._record_rules if r.name == name)
        return rule.read(raw)

    def apply(self, raw: Mapping[str, Any]) -> MappedRecord:
        errors: list[dict[str, Any]] = []
        values = _read_all(self._record_rules, raw, errors, prefix=())
        resident_values = _read_all(self._resident_rules, raw, errors, prefix=("resident",))
        provenance = {name: values.pop(name, None) for name in _PROVENANCE_TYPES}
        for name, value in provenance.items():
            if value is None:
                errors.append(_error(name, "missing", "a value is required"))
        record = _validate(self.model, values, errors, prefix=())
        resident = None
        if self.creates_residents:
            resident = _validate(ResidentFields, resident_values, errors, prefix=("resident",))
        if errors or record is None:
            fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
            raise BadRecordError(f"record does not fit the mapping: {fields}", errors=errors)
        return MappedRecord(
            source_record_id=str(provenance["source_record_id"]),
            source_updated_at=provenance["source_updated_at"],
            id_number=str(provenance["id_number"]),
            record=record,
            resident=resident,
        )


def _error(field: str | tuple[str, ...], kind: str, message: str) -> dict[str, Any]:
    loc = list(field) if isinstance(field, tuple) else [field]
    return {"loc": loc, "type": kind, "msg": message}


def _read_all(
    rules: list[FieldRule],
    raw: Mapping[str, Any],
    errors: list[dict[str, Any]],
    *,
    prefix: tuple[str, ...],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for rule in rules:
        try:
            values[rule.name] = rule.read(raw)
        except FieldError as error:
            errors.append(_error((*prefix, rule.name), "conversion", str(error)))
    return values


def _validate(
    model: type[TargetRecord],
    values: dict[str, Any],
    errors: list[dict[str, Any]],
    *,
    prefix: tuple[str, ...],
) -> Any:
    """Validate what converted; a field that already failed is not reported twice."""
    failed = {tuple(e["loc"]) for e in errors}
    present = {k: v for k, v in values.items() if v is not None}
    try:
        return model.model_validate(present)
    except ValidationError as error:
        for item in error.errors(include_url=False, include_input=False):
            loc = (*prefix, *map(str, item["loc"]))
            if loc not in failed:
                errors.append(_error(loc, item["type"], item["msg"]))
        return None
