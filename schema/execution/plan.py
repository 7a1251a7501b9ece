"""Plans: a query's selections decided once per (document, operation, scopes, purpose).

A plan is plain data: for every object type reached, the response keys in order, and
for each how its value is obtained (`Source`) and how it completes (`Shape`). Access is
decided here, once, with `schema.access.decide`: a refused selection carries its refusal
and is never resolved. What cannot be planned (introspection, federation entry points,
abstract types, fragment arguments) raises `Unplannable`, and the standard executor runs
the operation instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from functools import cached_property
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from strawberry.schema.schema_converter import CustomGraphQLEnumType

from schema.access import AccessRules, FieldRule, Refusal, decide
from schema.loads import Load, derive_of, load_of

Builder = Callable[..., None]

RESIDENT_TYPE = "Resident"
# Root fields the compiled path does not run: introspection and federation's entry points.
UNPLANNED_ROOT_FIELDS = frozenset({"__schema", "__type", "_entities", "_service"})


class Unplannable(Exception):
    """The operation uses something the plan does not cover; run the standard executor."""


class Source(Enum):
    ATTRIBUTE = auto()  # a plain attribute of the parent object
    LOAD = auto()  # a declared batch load, fetched once per level for all parents
    DERIVE = auto()  # computed from the parent alone
    RESOLVER = auto()  # anything else: the field's resolver, called per parent
    TYPENAME = auto()  # __typename
    REFUSED = auto()  # decided at plan time: null, with the refusal's error


@dataclass(eq=False)
class Shape:
    """How a value completes: a leaf serialised, an object planned, or a list of shapes."""

    non_null: bool
    item: Shape | None = None  # lists
    serialize: Callable[[Any], Any] | None = None  # leaves
    object: ObjectPlan | None = None  # objects
    leaf_type: GraphQLScalarType | GraphQLEnumType | None = None


@dataclass(eq=False)
class Selection:
    """One response key of an object: where its value comes from and how it completes."""

    key: str
    name: str
    parent_type: GraphQLObjectType
    source: Source
    shape: Shape
    details: FieldDetailsList
    field_def: GraphQLField | None = None  # None for __typename
    attribute: str = ""
    load: Load | None = None
    derive: Callable[[Any], Any] | None = None
    rule: FieldRule | None = None  # recorded as allowed when the selection runs
    refusal: Refusal | None = None
    raw: bool = False  # a `rows` load served as rows: only `columns` are read
    columns: frozenset[str] = frozenset()

    @property
    def nodes(self) -> list[Any]:
        return [details.node for details in self.details]


@dataclass(eq=False)
class ObjectPlan:
    type: GraphQLObjectType
    selections: list[Selection] = field(default_factory=list)

    @property
    def is_resident(self) -> bool:
        return self.type.name == RESIDENT_TYPE

    @cached_property
    def builder(self) -> Builder:
        """The generated function building one parent's response dict (codegen.py)."""
        from schema.execution.codegen import builder

        return builder(self)

    @cached_property
    def ruled(self) -> list[Selection]:
        """Selections whose rule is recorded as allowed by the executor when they run (a
        resolver's guard records its own), PII and sensitive fields aside (`harvested`)."""
        return [s for s in self._executor_ruled if not s.rule.harvest]  # type: ignore[union-attr]

    @cached_property
    def harvested(self) -> list[Selection]:
        """Ruled selections of PII or sensitive fields: under a harvest quota each is
        recorded as allowed only for a resident the quota admits."""
        return [s for s in self._executor_ruled if s.rule.harvest]  # type: ignore[union-attr]

    @cached_property
    def _executor_ruled(self) -> list[Selection]:
        return [
            s
            for s in self.selections
            if s.rule is not None and s.source in (Source.ATTRIBUTE, Source.LOAD, Source.DERIVE)
        ]

    @cached_property
    def loads(self) -> list[Selection]:
        """Its load selections (computed once the plan is complete)."""
        return [s for s in self.selections if s.source is Source.LOAD]


@dataclass(frozen=True)
class Decisions:
    """What a plan depends on besides the document: the caller's scopes and purpose."""

    rules: AccessRules
    scopes: frozenset[str]
    has_purpose: bool


class Planner:
    """Builds the plan of one operation (the root `ObjectPlan`)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variable_values: VariableValues,
        operation: OperationDefinitionNode,
        decisions: Decisions,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variable_values = variable_values
        self.operation = operation
        self.decisions = decisions

    def root(self, root_type: GraphQLObjectType) -> ObjectPlan:
        grouped, defer_usages, _ = collect_fields(
            self.schema, self.fragments, self.variable_values, root_type, self.operation, True
        )
        if defer_usages:
            raise Unplannable("@defer")
        if UNPLANNED_ROOT_FIELDS & {details[0].node.name.value for details in grouped.values()}:
            raise Unplannable("introspection or federation entry point")
        return self._object(root_type, grouped, root=True)

    def _subplan(self, type_: GraphQLObjectType, details: FieldDetailsList) -> ObjectPlan:
        grouped, defer_usages, _ = collect_subfields(
            self.schema, self.fragments, self.variable_values, self.operation, type_, details, True
        )
        if defer_usages:
            raise Unplannable("@defer")
        return self._object(type_, grouped, root=False)

    def _object(
        self, type_: GraphQLObjectType, grouped: dict[str, FieldDetailsList], *, root: bool
    ) -> ObjectPlan:
        plan = ObjectPlan(type_)
        for key, details in grouped.items():
            if any(d.fragment_variable_values is not None for d in details):
                raise Unplannable("fragment arguments")
            plan.selections.append(self._selection(type_, key, details, root=root))
        return plan

    def _selection(
        self, type_: GraphQLObjectType, key: str, details: FieldDetailsList, *, root: bool
    ) -> Selection:
        name = details[0].node.name.value
        if name == "__typename":
            typename = GraphQLNonNull(GraphQLString)
            shape = self._shape(typename, details)
            return Selection(key, name, type_, Source.TYPENAME, shape, details)
        field_def = type_.fields[name]
        coordinate = f"{type_.name}.{name}"
        rule = self.decisions.rules.fields.get(coordinate)
        refusal = (
            decide(rule, self.decisions.scopes, has_purpose=self.decisions.has_purpose)
            if rule is not None
            else None
        )
        shape = self._shape(field_def.type, details)
        if root or coordinate in self.decisions.rules.arguments:
            # Root fields and fields with argument rules run their (guarded) resolver.
            return Selection(key, name, type_, Source.RESOLVER, shape, details, field_def)
        selection = Selection(
            key, name, type_, Source.RESOLVER, shape, details, field_def, rule=rule
        )
        if refusal is not None:
            selection.source, selection.refusal = Source.REFUSED, refusal
        elif (load := load_of(field_def)) is not None:
            selection.source, selection.load = Source.LOAD, load
            if load.rows and (columns := _plain_columns(shape)) is not None:
                selection.raw, selection.columns = True, columns | load.needs
        elif (derive := derive_of(field_def)) is not None:
            selection.source, selection.derive = Source.DERIVE, derive
        elif (attribute := _plain_attribute(field_def)) is not None:
            selection.source, selection.attribute = Source.ATTRIBUTE, attribute
        return selection

    def _shape(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Shape:
        non_null = isinstance(type_, GraphQLNonNull)
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return Shape(non_null, item=self._shape(type_.of_type, details))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return Shape(non_null, serialize=_serializer(type_), leaf_type=type_)
        if isinstance(type_, GraphQLObjectType):
            return Shape(non_null, object=self._subplan(type_, details))
        raise Unplannable(f"abstract type {type_}")


def _serializer(type_: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """A leaf type's output coercion. Strawberry's enum types scan their values on every
    call (about 3 % of a page's CPU); the same answer comes here from a table built once
    (raw value to name, the scan's first match), the scan itself kept for anything the
    table does not hold, errors included."""
    if not isinstance(type_, CustomGraphQLEnumType):
        return type_.serialize
    names: dict[Any, str] = {}
    for name, value in type_.values.items():
        names.setdefault(value.value, name)
    members, scan = type_.wrapped_cls, type_.serialize

    def serialize(value: Any) -> Any:
        if isinstance(value, members):
            try:
                return names[value.value]
            except (KeyError, TypeError):  # not in the table, or unhashable: the scan answers
                pass
        return scan(value)

    return serialize


def _plain_columns(shape: Shape) -> frozenset[str] | None:
    """The attributes an object (or list of objects) reads, if it reads nothing else."""
    while shape.item is not None:
        shape = shape.item
    plan = shape.object
    if plan is None:
        return None
    if any(s.source not in (Source.ATTRIBUTE, Source.TYPENAME) for s in plan.selections):
        return None
    return frozenset(s.attribute for s in plan.selections if s.source is Source.ATTRIBUTE)


def _plain_attribute(field_def: GraphQLField) -> str | None:
    """The Python attribute a field reads when strawberry gives it no resolver of its own."""
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or definition.base_resolver is not None:
        return None
    name: str = definition.python_name
    return name
