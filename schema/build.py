"""Builds the unified schema and the federation subgraphs from the registered modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import federation
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from schema.access import AccessRules
from schema.admin import AdminMutation, AdminQuery
from schema.audit import AuditQuery
from schema.context import Info
from schema.cost import CostModel
from schema.department import DepartmentSchema
from schema.departments import DEPARTMENTS
from schema.errors import EXPECTED_CODES
from schema.execution.compiled import CompiledExecutor
from schema.execution.standard import StandardExecutor, guard
from schema.extensions.cost_report import CostReport
from schema.extensions.document_limits import DocumentCache, DocumentLimitsExtension
from schema.extensions.error_codes import ErrorCodes, logger
from schema.extensions.hooks import CachedHooksRunner
from schema.extensions.operation_scope import OperationScope
from schema.extensions.schema_exposure import SchemaExposure
from schema.extensions.validation import DocumentValidation, ValidationResults
from schema.governance import GovernanceMutation, GovernanceQuery, GovernanceSubscription
from schema.query import CoreQuery
from schema.resident import RESIDENTS, Resident
from schema.rules.limits import DocumentLimits
from schema.scalars import SCALAR_OVERRIDES

# The roots: one line per domain that contributes root fields.
Query = merge_types("Query", (CoreQuery, AuditQuery, AdminQuery, GovernanceQuery))
Mutation = merge_types("Mutation", (AdminMutation, GovernanceMutation))
Subscription = merge_types("Subscription", (GovernanceSubscription,))

UNIFIED = "unified"
CORE = "core"
SUBGRAPHS: tuple[str, ...] = (CORE, *(d.name for d in DEPARTMENTS))

_DEPARTMENT_FIELDS = frozenset(
    field.python_name
    for department in DEPARTMENTS
    for field in department.resident_fields.__strawberry_definition__.fields
    if field.python_name != "id"
)


class HubSchema(federation.Schema):
    """A federation schema that logs expected GraphQL errors quietly and wraps its
    extensions' hooks once per class (`schema/extensions/hooks.py`).

    `access_rules` is the table of its scope declarations, built once with it.
    """

    access_rules: AccessRules
    cost_model: CostModel

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> CachedHooksRunner:
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            code = (error.extensions or {}).get("code")
            if code in EXPECTED_CODES:
                logger.debug("%s at %s: %s", code, error.path, error.message)
            elif error.original_error is None:
                logger.debug("invalid request: %s", error.message)


class CoreSchema(HubSchema):
    """The core subgraph: the unified types without the departments' profile fields."""

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        if type_definition.name != "Resident":
            return type_definition.fields
        return [f for f in type_definition.fields if f.python_name not in _DEPARTMENT_FIELDS]


ExtensionFactory = Callable[[], SchemaExtension] | type[SchemaExtension]


def _extensions(
    production: bool, limits: DocumentLimits | None, extra: Sequence[ExtensionFactory]
) -> list[Any]:
    # The audit extension (in `extra`) enters first and exits last: it reads the context
    # OperationScope sets up, after OperationScope has released the database connection.
    # DocumentLimitsExtension parses (within the limits); CostReport must follow
    # DocumentValidation, whose errors it reads before the operation runs.
    common = [
        *extra,
        lambda: ErrorCodes(mask_internal=production, hide_suggestions=production),
        OperationScope,
        *([SchemaExposure] if production else []),
    ]
    validations = ValidationResults(maxsize=512)
    validation = [lambda: DocumentValidation(results=validations)]
    if limits is None:  # no limits (only to measure what they cost): plain cached parsing
        return [*common, lambda: ParserCache(maxsize=512), *validation]
    documents = DocumentCache(limits)
    return [*common, lambda: DocumentLimitsExtension(cache=documents), *validation, CostReport]


def _config() -> StrawberryConfig:
    return StrawberryConfig(disable_field_suggestions=True)


def _department_resident(department: DepartmentSchema) -> type[Any]:
    """The department subgraph's `Resident` entity: the key plus the department's field."""

    async def resolve_reference(cls: type[Any], info: Info, id: strawberry.ID) -> Any:
        row = await info.context.loaders.load(RESIDENTS, str(id))
        return cls(id=id) if row is not None else None

    namespace = {"resolve_reference": classmethod(resolve_reference)}
    cls = type("Resident", (department.resident_fields,), namespace)
    resident: type[Any] = federation.type(keys=["id"])(cls)
    return resident


def build_schema(
    name: str = UNIFIED,
    *,
    production: bool = False,
    extensions: Sequence[ExtensionFactory] = (),
    limits: DocumentLimits | None = DocumentLimits(),  # noqa: B008 (frozen: shared safely)
    executor: type[StandardExecutor] | None = None,
) -> HubSchema:
    """The unified schema (`name="unified"`) or one federation subgraph by name.

    Queries run on the compiled path unless `executor` names another (the standard one).
    `limits=None` builds it without document limits and cost analysis (`make bench` only).
    """
    options: dict[str, Any] = {
        "extensions": _extensions(production, limits, extensions),
        "config": _config(),
        "execution_context_class": executor or CompiledExecutor,
        "scalar_overrides": SCALAR_OVERRIDES,
    }
    schema = _schema(name, options)
    schema.access_rules = AccessRules.from_schema(schema)
    schema.cost_model = CostModel.from_schema(
        schema._schema, harvest=schema.access_rules.harvested()
    )
    guard(schema, schema.access_rules)
    return schema


def _schema(name: str, options: dict[str, Any]) -> HubSchema:
    roots: dict[str, Any] = {"query": Query, "mutation": Mutation, "subscription": Subscription}
    if name == UNIFIED:
        return HubSchema(**roots, types=[Resident], **options)
    if name == CORE:
        return CoreSchema(**roots, types=[Resident], **options)
    for department in DEPARTMENTS:
        if department.name == name:
            return HubSchema(types=[_department_resident(department)], **options)
    raise ValueError(f"unknown schema {name!r}; expected {UNIFIED!r} or one of {SUBGRAPHS}")
