"""Query size limits (depth, aliases) as validation rules whose errors say QUERY_TOO_COMPLEX.

The rules are built once: the validation cache is keyed by the rule classes, and
strawberry's QueryDepthLimiter/MaxAliasesLimiter would build new ones per request.
"""

from __future__ import annotations

from graphql import ASTValidationRule, GraphQLError, ValidationContext
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from schema.errors import QUERY_TOO_COMPLEX

MAX_DEPTH = 12
MAX_ALIASES = 30


def _coded(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """The rule, with its errors coded QUERY_TOO_COMPLEX (both rules check in __init__)."""

    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.report_error

            def coded(error: GraphQLError) -> None:
                error.extensions = {**(error.extensions or {}), "code": QUERY_TOO_COMPLEX}
                report(error)

            context.report_error = coded  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                del context.report_error  # the class's method again, for the other rules

    return Coded


LIMIT_RULES: list[type[ASTValidationRule]] = [
    _coded(depth_rule(MAX_DEPTH, None, None)),
    _coded(alias_rule(MAX_ALIASES)),
]
