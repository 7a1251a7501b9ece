"""Errors in response order, so that every executor answers the same list in the same order.

graphql-core reports errors as they happen, which depends on when awaitables settle; the
compiled path builds level by level. Both sort their errors by where they sit in the
response: by key position within objects and by index within lists, errors without a
path (request errors) first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

Position = tuple[tuple[int, Any], ...]


def in_response_order(data: Any, errors: Sequence[GraphQLError]) -> list[GraphQLError]:
    return sorted(errors, key=lambda error: _position(data, error.path))


def _position(data: Any, path: Sequence[str | int] | None) -> Position:
    if path is None:
        return ()
    position: list[tuple[int, Any]] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            position.append((0, list(node).index(part)))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            position.append((0, part))
            node = node[part]
        else:  # below a null: order by the path itself
            position.append((1, (isinstance(part, str), part)))
            node = None
    return tuple(position)
