"""Batch predicates: `column IN keys`, compiled once whatever the number of keys.

On PostgreSQL a batch of keys travels as one array parameter (`= ANY($1)`), so the
statement text — and SQLAlchemy's compiled form of it — is the same for 3 keys or 300
(an expanding `IN` is rendered anew for every length). SQLite has no arrays: `IN`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection


def among(
    connection: AsyncConnection, column: SQLColumnExpression[Any], keys: Iterable[Any]
) -> ColumnElement[bool]:
    """`column` is one of `keys` (text keys: ids, codes, paths)."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(keys), type_=ARRAY(String())))
    return column.in_(list(keys))


def among_param(dialect: str, column: SQLColumnExpression[Any], name: str) -> ColumnElement[bool]:
    """`column` is one of the keys bound later as the parameter `name` (a list of text keys):
    for statements built once per dialect and run with `{name: keys}`. The same SQL as
    `among` renders for that dialect."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String())))
    return column.in_(bindparam(name, expanding=True))
