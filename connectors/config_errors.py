"""Problems of a connectors file, all at once, each as (key path, plain message).

Pydantic stops inside a model at its first after-validator and speaks in its own terms
(`Value error, …`, union member tags in locations, "Extra inputs are not permitted").
`problems_of` turns its errors into the file's key paths and plain words, suggests the key
that was probably meant, and adds the mapping problems of streams that pydantic did not
reach, so one `hub connectors check` lists everything to fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.targets import PROVENANCE_FIELDS, TARGETS, ResidentFields

Problem = tuple[str, str]  # (dotted key path, message)

_TAGGED_PARENTS = ("pagination", "auth")  # discriminated unions: pydantic adds the tag to the loc


class MappingProblemsError(ValueError):
    """Several problems of one model, with paths relative to it (a validator raises one error)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def mapping_problems(stream: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with a stream's target and field tables; works on raw TOML or a model."""
    target = stream.get("target")
    model = TARGETS.get(target) if isinstance(target, str) else None
    if model is None:
        return [("target", f"unknown target {target!r}; one of {', '.join(TARGETS)}")]
    fields = _keys(stream.get("fields"))
    resident = _keys(stream.get("resident"))
    problems = _unknown("fields", fields, [*PROVENANCE_FIELDS, *model.model_fields])
    missing = [f for f in PROVENANCE_FIELDS if f not in fields]
    missing += [n for n, f in model.model_fields.items() if f.is_required() and n not in fields]
    if missing:
        problems.append(("fields", f"missing mapping for {', '.join(missing)}"))
    problems += _unknown("resident", resident, list(ResidentFields.model_fields))
    creates = stream.get("creates_residents") is True
    if resident and not creates:
        problems.append(("resident", "only a stream with creates_residents = true maps residents"))
    if creates and "grid_code" not in resident:
        problems.append(("resident", "a creating stream must map grid_code (the building grid)"))
    return problems


def _keys(table: Any) -> list[str]:
    return [str(key) for key in table] if isinstance(table, Mapping) else []


def _unknown(section: str, given: list[str], known: list[str]) -> list[Problem]:
    return [
        (f"{section}.{name}", f"unknown field {name!r}{_suggestion(name, known)}")
        for name in given
        if name not in known
    ]


def _suggestion(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"


def problems_of(
    error: ValidationError, data: Mapping[str, Any], *, known_keys: Iterable[str] = ()
) -> list[Problem]:
    """Every problem pydantic found, plus the mapping problems of every stream in `data`."""
    found: list[Problem] = []
    for item in error.errors(include_url=False):
        found += _translate(item, known_keys)
    found += _raw_mapping_problems(data)
    return sorted(dict.fromkeys(found), key=lambda problem: problem[0])  # each once


def _translate(item: Any, known_keys: Iterable[str]) -> list[Problem]:
    where = key_path(item["loc"])
    cause = (item.get("ctx") or {}).get("error")
    if isinstance(cause, MappingProblemsError):
        return [(_join(where, path), message) for path, message in cause.problems]
    return [(where, _plain(item, known_keys))]


def _raw_mapping_problems(data: Mapping[str, Any]) -> list[Problem]:
    connectors = data.get("connectors")
    tables = data.get("code_tables")
    known_tables = set(tables) if isinstance(tables, Mapping) else set()
    problems: list[Problem] = []
    for name, source in connectors.items() if isinstance(connectors, Mapping) else ():
        streams = source.get("streams") if isinstance(source, Mapping) else None
        for stream_name, stream in streams.items() if isinstance(streams, Mapping) else ():
            if not isinstance(stream, Mapping):
                continue
            where = f"connectors.{name}.streams.{stream_name}"
            problems += [(_join(where, p), m) for p, m in mapping_problems(stream)]
            problems += _missing_code_tables(where, stream, known_tables)
    return problems


def _missing_code_tables(where: str, stream: Mapping[str, Any], known: set[str]) -> list[Problem]:
    problems = []
    for section in ("fields", "resident"):
        table = stream.get(section)
        for field, spec in table.items() if isinstance(table, Mapping) else ():
            codes = spec.get("codes") if isinstance(spec, Mapping) else None
            if isinstance(codes, str) and codes not in known:
                message = f"no code table {codes!r} under [code_tables]"
                problems.append((f"{where}.{section}.{field}.codes", message))
    return problems


def key_path(loc: tuple[int | str, ...]) -> str:
    """Dotted key path, without pydantic's union-member tags (`http`, `oauth2`, `page` …)."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        after_tagged = index > 0 and loc[index - 1] in _TAGGED_PARENTS
        kind_tag = index == 2 and loc[0] == "connectors"
        if after_tagged or kind_tag:
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _join(where: str, path: str) -> str:
    return path if where == "(top level)" else f"{where}.{path}"


def _plain(item: Any, known_keys: Iterable[str]) -> str:
    """Pydantic's message in the file's terms: no internal prefixes or type names."""
    kind, message, ctx = item["type"], item["msg"], item.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(item["loc"][-1])
        if key in set(known_keys):
            return f"{key!r} does not belong here; see connectors/README.md for where it goes"
        return f"unknown key {key!r}{_suggestion(key, known_keys)}"
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown {_bare(ctx.get('discriminator'))} {ctx.get('tag')!r}; one of {expected}"
    if kind == "union_tag_not_found":
        return f"missing {_bare(ctx.get('discriminator'))}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if len(item["loc"]) > 1 and item["loc"][-2] in ("fields", "resident"):
            return 'expected a path in quotes or a table such as { path = "…" }'
        return "expected a table ({ key = value, … })"
    if kind == "string_type":
        return "expected text (in quotes)"
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return str(message)


def _bare(name: object) -> str:
    return f"`{str(name).strip(chr(39))}`"
