"""schema/execution/plan.py `_serializer`: an enum leaf's table answers exactly what
strawberry's own coercion answers, for every member of every enum type of the schema, and
anything else still goes through strawberry's coercion (its errors included)."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from schema.build import build_schema
from schema.execution.plan import _serializer

ENUMS = [
    t for t in build_schema()._schema.type_map.values() if isinstance(t, CustomGraphQLEnumType)
]


def _outcome(serialize: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", serialize(value)
    except Exception as error:
        return "error", (type(error), str(error))


@pytest.mark.parametrize("enum_type", ENUMS, ids=lambda t: t.name)
def test_enum_leaves_serialize_as_strawberry_does(enum_type: CustomGraphQLEnumType) -> None:
    fast = _serializer(enum_type)
    members: list[Any] = list(enum_type.wrapped_cls)
    assert members
    for value in [*members, *(m.value for m in members), "NOT_A_MEMBER", 7, None]:
        assert _outcome(fast, value) == _outcome(enum_type.serialize, value), value


def test_the_schema_has_enum_leaves_to_check() -> None:
    assert len(ENUMS) >= 10
