"""Static cost of an operation, from the `@cost` and `@listSize` directives the SDL declares.

The numbers are declared once, on the schema (`@cost(weight:)`, `@listSize(assumedSize:,
slicingArguments:, sizedFields:)`, the IBM / GraphQL Foundation cost directives that
federation ≥ 2.9 carries), so a gateway reading the SDL can enforce the same limits.

How an operation is costed (the usual reading of those directives, as Apollo's and Hive's
demand control read them):

- a field returning an object (or a list of them) costs 1 per object, a leaf costs 0, unless
  the field or its type declares `@cost(weight:)`;
- a list field multiplies what it selects by its size: the value of its slicing argument
  (`first`), else that argument's default, else its `assumedSize`, else `DEFAULT_LIST_SIZE`;
  with `sizedFields`, the size applies to those child lists instead (a connection's `edges`);
- `_entities` is sized by the number of representations it is given;
- resident nodes are the `Resident` objects the operation may return, multiplied the same way.

`CostModel.plan(document, operation)` turns one operation into a plan once (cached per
document, so the parser cache's documents are planned once); `plan.evaluate(variables)` is
then a walk over that plan with the request's variables. Both are pure: the standard
executor's extension and the compiled executor can share them. The plan also knows whether
the operation reads any harvest-counted field (PII or sensitive), and checks string
arguments against a length bound.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from strawberry.federation.schema_directives import Cost as CostDirective
from strawberry.federation.schema_directives import ListSize
from strawberry.types.unset import UNSET

from schema.errors import BAD_USER_INPUT

DEFAULT_LIST_SIZE = 10
PLAN_CACHE_SIZE = 1024  # documents' plans kept, least recently used first out
RESIDENT_TYPE = "Resident"
# List arguments that size a list field by their length (federation's entity resolution).
LENGTH_ARGUMENTS = {"Query._entities": "representations"}


@dataclass(frozen=True)
class FieldCost:
    """What the schema declares about one field's cost."""

    weight: int
    is_list: bool = False
    slicing: tuple[str, ...] = ()
    sized_fields: frozenset[str] = frozenset()
    assumed_size: int | None = None
    argument_defaults: Mapping[str, Any] = field(default_factory=dict)
    length_argument: str | None = None
    resident: bool = False  # returns Resident objects (directly, or as one of its union's)
    harvest: bool = False  # a PII or sensitive field: reading it counts towards quotas


@dataclass(frozen=True)
class Cost:
    """What an operation may cost: `requested` units and `resident_nodes` residents."""

    requested: int
    resident_nodes: int
    harvest: bool

    def report(self, maximum: int, maximum_residents: int) -> dict[str, int]:
        """The answer's `extensions.cost`."""
        return {
            "requested": self.requested,
            "maximum": maximum,
            "residentNodes": self.resident_nodes,
            "maximumResidentNodes": maximum_residents,
        }


class StringTooLongError(GraphQLError):
    def __init__(self, argument: str, maximum: int) -> None:
        super().__init__(
            f"`{argument}` is longer than {maximum} characters; send a shorter value",
            extensions={"code": BAD_USER_INPUT, "argument": argument},
        )


@dataclass(eq=False)
class PlanField:
    cost: FieldCost
    coordinate: str
    arguments: Mapping[str, ValueNode]
    children: list[PlanField] = field(default_factory=list)
    sized_by_parent: bool = False


@dataclass(eq=False)
class Plan:
    """One operation, ready to be costed for any variables."""

    roots: list[PlanField]
    harvest: bool
    variable_defaults: Mapping[str, Any]
    strings: list[tuple[str, ValueNode]]  # (argument label, value) to check for length
    _fixed: Cost | None = field(default=None, init=False)  # the cost, when no variable sizes it

    def evaluate(self, variables: Mapping[str, Any] | None, *, max_string: int) -> Cost:
        given = {**self.variable_defaults, **(variables or {})}
        for label, value in self.strings:
            _check_strings(label, value, given, max_string)
        if self._fixed is not None:
            return self._fixed
        cost = self._evaluate(given)
        if not self._sized_by_variables:
            self._fixed = cost
        return cost

    @cached_property
    def _sized_by_variables(self) -> bool:
        """Does any list's size come from a variable? If not, every request costs the same."""
        pending = list(self.roots)
        while pending:
            node = pending.pop()
            sizing = [node.cost.length_argument, *node.cost.slicing]
            if any(_has_variable(node.arguments.get(name)) for name in sizing if name):
                return True
            pending.extend(node.children)
        return False

    def _evaluate(self, given: Mapping[str, Any]) -> Cost:
        memo: dict[tuple[int, int | None], tuple[int, int]] = {}
        requested = residents = 0
        for root in self.roots:
            cost, count = self._field(root, given, None, memo)
            requested += cost
            residents += count
        return Cost(requested=requested, resident_nodes=residents, harvest=self.harvest)

    def _field(
        self,
        node: PlanField,
        variables: Mapping[str, Any],
        parent_size: int | None,
        memo: dict[tuple[int, int | None], tuple[int, int]],
    ) -> tuple[int, int]:
        """(cost, resident nodes) of one field, times the objects it yields."""
        key = (id(node), parent_size if node.sized_by_parent else None)
        known = memo.get(key)
        if known is not None:
            return known
        declared = node.cost
        if node.sized_by_parent and parent_size is not None:
            times = parent_size  # a connection's `edges`, sized by the connection's `first`
        elif declared.is_list:
            times = _size(node, variables)
        else:
            times = 1
        handed_down = _size(node, variables) if declared.sized_fields else None
        cost = declared.weight
        residents = 1 if declared.resident else 0
        for child in node.children:
            child_cost, child_residents = self._field(child, variables, handed_down, memo)
            cost += child_cost
            residents += child_residents
        memo[key] = result = (times * cost, times * residents)
        return result


def _size(node: PlanField, variables: Mapping[str, Any]) -> int:
    declared = node.cost
    if declared.length_argument is not None:
        value = _value(node.arguments.get(declared.length_argument), variables)
        return len(value) if isinstance(value, list) else DEFAULT_LIST_SIZE
    sizes: list[int] = []
    for name in declared.slicing:
        size = _int(_value(node.arguments.get(name), variables))
        if size is None:  # not given, or not a number (coercion will refuse it later)
            size = _int(declared.argument_defaults.get(name))
        if size is not None:
            sizes.append(size)
    if sizes:
        return max(0, max(sizes))
    return declared.assumed_size if declared.assumed_size is not None else DEFAULT_LIST_SIZE


def _has_variable(node: ValueNode | None) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_has_variable(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_has_variable(entry.value) for entry in node.fields)
    return False


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _value(node: ValueNode | None, variables: Mapping[str, Any], default: Any = None) -> Any:
    if node is None:
        return default
    if isinstance(node, VariableNode):
        return variables.get(node.name.value, default)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return list(node.values)
    return default


def _check_strings(label: str, node: ValueNode, variables: Mapping[str, Any], limit: int) -> None:
    if isinstance(node, VariableNode):
        _check_value(label, variables.get(node.name.value), limit)
    elif isinstance(node, StringValueNode):
        if len(node.value) > limit:
            raise StringTooLongError(label, limit)
    elif isinstance(node, ObjectValueNode):
        for item in node.fields:
            _check_strings(f"{label}.{item.name.value}", item.value, variables, limit)
    elif isinstance(node, ListValueNode):
        for value in node.values:
            _check_strings(label, value, variables, limit)


def _check_value(label: str, value: Any, limit: int) -> None:
    """Refuse the first string longer than `limit` in a variable's value, naming where it is."""
    if isinstance(value, str):
        if len(value) > limit:
            raise StringTooLongError(label, limit)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(inner, str) or len(inner) > limit:
                _check_value(f"{label}.{key}", inner, limit)
    elif isinstance(value, list):
        for inner in value:
            if not isinstance(inner, str) or len(inner) > limit:
                _check_value(label, inner, limit)


class CostModel:
    """Every field's declared cost in one schema, by (type, field)."""

    def __init__(self, schema: GraphQLSchema, fields: Mapping[tuple[str, str], FieldCost]):
        self.schema = schema
        self.fields = fields
        # By the document's identity (kept in the entry, so the id stays its own): AST nodes
        # hash by value, recursively through the whole document (~0.2 ms for a 100-resident
        # page, every request); the parser cache hands each request of one text the same node.
        self._plans: OrderedDict[tuple[int, str | None], tuple[DocumentNode, Plan | None]] = (
            OrderedDict()
        )

    def plan(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        """The operation's plan (cached per document object); None when there is no such
        operation."""
        key = (id(document), operation_name)
        entry = self._plans.get(key)
        if entry is not None and entry[0] is document:
            self._plans.move_to_end(key)
            return entry[1]
        plan = self._plan(document, operation_name)
        self._plans[key] = (document, plan)
        self._plans.move_to_end(key)
        if len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    @classmethod
    def from_schema(cls, schema: GraphQLSchema, *, harvest: Iterable[str] = ()) -> CostModel:
        """`harvest`: the `Type.field` coordinates whose reading counts towards quotas."""
        counted = frozenset(harvest)
        fields: dict[tuple[str, str], FieldCost] = {}
        for type_ in schema.type_map.values():
            if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
                continue
            if type_.name.startswith("__"):
                continue
            for name, definition in type_.fields.items():
                coordinate = f"{type_.name}.{name}"
                fields[type_.name, name] = _field_cost(
                    schema, coordinate, definition, harvest=coordinate in counted
                )
        return cls(schema, fields)

    def _plan(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        """The operation's plan; None when the document has no such operation."""
        operation = _operation(document, operation_name)
        if operation is None:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        builder = _Builder(self, fragments)
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return None
        roots = builder.selections(root, operation.selection_set)
        defaults = {
            v.variable.name.value: _literal(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        return Plan(
            roots=roots,
            harvest=builder.harvest,
            variable_defaults=defaults,
            strings=builder.strings,
        )


def _literal(node: ValueNode) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, StringValueNode):
        return node.value
    return None


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class _Builder:
    """Walks one operation with its types, inlining fragments (each built once per type)."""

    def __init__(self, model: CostModel, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.model = model
        self.fragments = fragments
        self.harvest = False
        self.strings: list[tuple[str, ValueNode]] = []
        self._spread: dict[str, list[PlanField]] = {}

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode
    ) -> list[PlanField]:
        planned: list[PlanField] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                node = self._field(parent, selection)
                if node is not None:
                    planned.append(node)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._type(condition.name.value) if condition else parent
                planned.extend(self.selections(inner or parent, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                planned.extend(self._fragment(selection.name.value))
        return planned

    def _fragment(self, name: str) -> list[PlanField]:
        if name not in self._spread:
            self._spread[name] = []  # a cycle (refused by validation) ends here
            definition = self.fragments.get(name)
            type_ = self._type(definition.type_condition.name.value) if definition else None
            if definition is not None and type_ is not None:
                self._spread[name] = self.selections(type_, definition.selection_set)
        return self._spread[name]

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.model.schema.get_type(name)

    def _field(self, parent: GraphQLNamedType, node: FieldNode) -> PlanField | None:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return None  # __typename, introspection (free), or a union (no fields of its own)
        definition = parent.fields.get(name)
        declared = self.model.fields.get((parent.name, name))
        if definition is None or declared is None:
            return None
        self.harvest = self.harvest or declared.harvest
        arguments = {argument.name.value: argument.value for argument in node.arguments or ()}
        for argument, value in arguments.items():
            self.strings.append((argument, value))
        planned = PlanField(declared, f"{parent.name}.{name}", arguments)
        if node.selection_set is not None:
            inner = get_named_type(definition.type)
            planned.children = self.selections(inner, node.selection_set)
            for child in planned.children:
                child.sized_by_parent = child.coordinate.split(".")[1] in declared.sized_fields
        return planned


def _field_cost(
    schema: GraphQLSchema, coordinate: str, definition: GraphQLField, *, harvest: bool
) -> FieldCost:
    declared = _directives(definition)
    named = get_named_type(definition.type)
    weight = 1 if is_composite_type(named) else 0
    type_cost = next((d for d in _directives(named) if isinstance(d, CostDirective)), None)
    if type_cost is not None:
        weight = type_cost.weight
    cost = next((d for d in declared if isinstance(d, CostDirective)), None)
    if cost is not None:
        weight = cost.weight
    size = next((d for d in declared if isinstance(d, ListSize)), None)
    slicing = tuple(size.slicing_arguments or ()) if size else ()
    defaults = {
        name: argument.default_value
        for name, argument in definition.args.items()
        if name in slicing and isinstance(argument.default_value, int)
    }
    return FieldCost(
        weight=weight,
        is_list=_is_list(definition),
        slicing=slicing,
        sized_fields=frozenset(size.sized_fields or ()) if size else frozenset(),
        assumed_size=size.assumed_size if size and isinstance(size.assumed_size, int) else None,
        argument_defaults=defaults,
        length_argument=LENGTH_ARGUMENTS.get(coordinate),
        resident=_returns_residents(schema, named),
        harvest=harvest,
    )


def _directives(element: Any) -> tuple[Any, ...]:
    definition = getattr(element, "extensions", {}).get("strawberry-definition")
    return tuple(getattr(definition, "directives", ()) or ())


def _is_list(definition: GraphQLField) -> bool:
    type_ = definition.type
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _returns_residents(schema: GraphQLSchema, named: GraphQLNamedType) -> bool:
    if named.name == RESIDENT_TYPE:
        return True
    if isinstance(named, GraphQLAbstractType):
        return any(t.name == RESIDENT_TYPE for t in schema.get_possible_types(named))
    return False


# The declarations domain modules put on their list fields (and so into the SDL).
# Arguments left UNSET are left out of the printed directive.
def paged() -> ListSize:
    """A Relay connection: `first` sizes its `edges` (`first` has a default: not required)."""
    return ListSize(
        assumed_size=UNSET,
        slicing_arguments=["first"],
        sized_fields=["edges"],
        require_one_slicing_argument=False,
    )


def assumed(size: int) -> ListSize:
    """An unpaged list: costed as if it held `size` items."""
    return ListSize(
        assumed_size=size,
        slicing_arguments=UNSET,
        sized_fields=UNSET,
        require_one_slicing_argument=UNSET,
    )
