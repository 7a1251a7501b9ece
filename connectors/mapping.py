"""Declarative field mapping: read a raw record's fields, clean and convert them, validate the result.

A stream's `fields` (and `resident`) tables say where each target field comes from; the
conversion follows the target field's type unless the spec names one. Every failure is
collected and reported per field, so a quarantined record says exactly what to fix.

Every value is converted and range-checked (connectors/convert.py) before it can reach a
database, so one bad value spoils one record, never its batch.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from connectors.config import FieldSpec, FieldValue, StreamBase
from connectors.convert import Converter, FieldError, build_converter, to_record_id
from connectors.errors import BadRecordError
from connectors.targets import TARGETS, ResidentFields, TargetRecord

_HALF_WIDTH = {0xFF01 + n: 0x21 + n for n in range(94)} | {0x3000: 0x20}


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


def _field_type(model: type[TargetRecord], name: str) -> Any:
    """The non-None type of a model field (`date | None` → `date`)."""
    annotation = model.model_fields[name].annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = (a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


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
                convert = to_record_id
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
