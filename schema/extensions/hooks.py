"""Strawberry's extension runner with each extension class's hooks wrapped once, not per request.

Strawberry's runner inspects every extension's hook and wraps it in a new
`contextlib.contextmanager` (with `functools.wraps`) for each phase of each request: about a
tenth of a lookup's CPU went there. Here the wrapping is done once per extension class and
hook (the unbound generator function, called with the extension as its argument: the same
context manager), so a request only enters and exits the hooks. Which hooks run, their order
and how exceptions pass through them are strawberry's own (its context managers, exit
stacks included).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

_Factory = Callable[[SchemaExtension], Any]


_ABSENT = "absent"  # the class does not define the hook
_PLAIN = "plain"  # a plain function: strawberry wraps it per request, as it always does


_Wrapped = tuple[_Factory, bool] | str
_WRAPPED: dict[tuple[type[SchemaExtension], str], _Wrapped] = {}


def _wrapped(extension_type: type[SchemaExtension], hook_name: str) -> _Wrapped:
    key = (extension_type, hook_name)
    if (known := _WRAPPED.get(key)) is None:
        known = _WRAPPED[key] = _wrap(extension_type, hook_name)
    return known


def _wrap(extension_type: type[SchemaExtension], hook_name: str) -> _Wrapped:
    """The context-manager factory of `extension_type`'s hook and whether it is async."""
    hook_fn = getattr(extension_type, hook_name)
    if hook_fn is getattr(SchemaExtension, hook_name):
        return _ABSENT
    if inspect.isgeneratorfunction(hook_fn):
        return contextlib.contextmanager(hook_fn), False
    if inspect.isasyncgenfunction(hook_fn):
        return contextlib.asynccontextmanager(hook_fn), True
    return _PLAIN


class _CachedHooks(ExtensionContextManagerBase):
    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        wrapped = _wrapped(type(extension), self.HOOK_NAME)
        if isinstance(wrapped, str):
            return None if wrapped == _ABSENT else super().get_hook(extension)
        factory, is_async = wrapped
        return WrappedHook(extension, functools.partial(factory, extension), is_async)


class _Operation(_CachedHooks, OperationContextManager):
    __slots__ = ()


class _Validation(_CachedHooks, ValidationContextManager):
    __slots__ = ()


class _Parsing(_CachedHooks, ParsingContextManager):
    __slots__ = ()


class _Executing(_CachedHooks, ExecutingContextManager):
    __slots__ = ()


class CachedHooksRunner(SchemaExtensionsRunner):
    """`SchemaExtensionsRunner` whose phases use the hooks wrapped once per class."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
