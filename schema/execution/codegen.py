"""Plan → Python source → function: the builder of one object type's response dict.

For each `ObjectPlan` a function is generated that reads every selection of one parent
object and writes the response dict: plain attributes read inline, declared loads taken
from the level's fetched batches, leaves serialised inline on the common path (a `str`
for String/ID, an `int` in range for Int, a `bool` for Boolean) and through the type's own
coercion otherwise, lists completed in a loop, child objects queued for the next level.
Everything unusual — a null where a value is promised, a value the type cannot represent,
a refusal, a failed batch — calls back into `Run`, which holds the one implementation of
errors and null propagation. The generated code is a specialisation of `Run._complete`;
the differential tests hold the two to the same answers.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLBoolean, GraphQLID, GraphQLInt, GraphQLString

from schema.execution.plan import Builder, ObjectPlan, Selection, Shape, Source

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class _Writer:
    """Accumulates the source of one builder and the objects it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self._counter = 0

    def bind(self, prefix: str, value: Any) -> str:
        self._counter += 1
        name = f"{prefix}{self._counter}"
        self.names[name] = value
        return name

    def local(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)


def builder(plan: ObjectPlan, name: str = "build") -> Builder:
    """The generated builder of `plan`: build(run, src, out, slot, fetched, following, calls)."""
    writer = _Writer()
    writer.emit(0, f"def {name}(run, src, out, slot, fetched, following, calls):")
    writer.emit(1, "allows = run.allows")
    _object(writer, 1, plan, "src", "out", "slot")
    writer.emit(1, "return None")
    source = "\n".join(writer.lines)
    namespace: dict[str, Any] = {"Slot": _slot_class(), **writer.names}
    exec(compile(source, f"<plan {plan.type.name}>", "exec"), namespace)  # our own source
    built: Builder = namespace[name]
    built.__doc__ = source  # the generated source, for debugging and tests
    return built


def _slot_class() -> type:
    from schema.execution.run import Slot

    return Slot


def inlined(plan: ObjectPlan) -> bool:
    """Whether a child object is built in its parent's builder rather than queued for the
    next level: it needs no load and no resolver, all the way down."""
    for selection in plan.selections:
        if selection.source in (Source.LOAD, Source.RESOLVER):
            return False
        shape = selection.shape
        while shape.item is not None:
            shape = shape.item
        if shape.object is not None and not inlined(shape.object):
            return False
    return True


def _object(w: _Writer, depth: int, plan: ObjectPlan, src: str, out: str, slot: str) -> None:
    """The code of one object's selections: read from `src`, write into `out`; `slot` is an
    expression for the object's position (evaluated only on an error path)."""
    for selection in plan.selections:
        _selection(w, depth, selection, plan, src, out, slot)


def _selection(
    w: _Writer, depth: int, selection: Selection, plan: ObjectPlan, src: str, out: str, slot: str
) -> None:
    key = repr(selection.key)
    sel = w.bind("sel", selection)
    kind = selection.source
    if kind is Source.TYPENAME:
        w.emit(depth, f"{out}[{key}] = {plan.type.name!r}")
        return
    if kind is Source.REFUSED:
        w.emit(depth, f"run.refuse({sel}, {out}, {slot})")
        return
    if kind is Source.RESOLVER:
        w.emit(depth, f"{out}[{key}] = None")
        w.emit(depth, f"calls.append(({sel}, {src}, {out}, {slot}))")
        return
    if selection.rule is not None and selection.rule.harvest:
        # PII or sensitive: the caller's harvest quota must admit the resident first.
        w.emit(depth, f"if allows is None or run.harvest({sel}, {src}, {out}, {slot}):")
        depth += 1
    value = w.local("v")
    if kind is Source.ATTRIBUTE:
        w.emit(depth, f"{value} = {src}.{selection.attribute}")
        _complete(w, depth, value, selection.shape, sel, out, key, slot)
        return
    if kind is Source.DERIVE:
        derive = w.bind("derive", selection.derive)
        w.emit(depth, f"{value} = {derive}({src})")
        _complete(w, depth, value, selection.shape, sel, out, key, slot)
        return
    load = selection.load
    assert load is not None
    batch = w.bind("batch", load.batch)
    pick = w.bind("value", load.raw_value if selection.raw else load.value)
    missing = w.bind("missing", load.batch.missing)
    rows, load_key = w.local("rows"), w.local("k")
    w.emit(depth, f"{load_key} = {src}.{load.key}")
    w.emit(depth, f"if {load_key} is None:")
    w.emit(depth + 1, f"{value} = {pick}({missing})")
    w.emit(depth, "else:")
    w.emit(depth + 1, f"{rows} = fetched[{batch}]")
    w.emit(depth + 1, f"if {rows}.__class__ is not dict:")  # a failed fetch: its exception
    w.emit(depth + 2, f"run.field_error({rows}, {sel}, {out}, {slot})")
    w.emit(depth + 2, f"{value} = run.FAILED")
    w.emit(depth + 1, "else:")
    w.emit(depth + 2, f"{value} = {pick}({rows}.get({load_key}, {missing}))")
    w.emit(depth, f"if {value} is not run.FAILED:")
    _complete(w, depth + 1, value, selection.shape, sel, out, key, slot)


def _complete(
    w: _Writer,
    depth: int,
    value: str,
    shape: Shape,
    sel: str,
    container: str,
    key: str,
    parent: str,
) -> None:
    """Code completing `value` of `shape` into `container[key]`, held by position `parent`."""
    shape_name = w.bind("shape", shape)
    w.emit(depth, f"if {value} is None:")
    w.emit(depth + 1, f"{container}[{key}] = None")
    if shape.non_null:
        w.emit(depth + 1, f"run.null_violation({sel}, {shape_name}, {container}, {key}, {parent})")
    w.emit(depth, "else:")
    depth += 1
    if shape.serialize is not None:
        fast = _fast_leaf(shape, value)
        slow = f"run.leaf({sel}, {shape_name}, {value}, {container}, {key}, {parent})"
        if fast is None:
            w.emit(depth, slow)
        else:
            w.emit(depth, f"if {fast}:")
            w.emit(depth + 1, f"{container}[{key}] = {value}")
            w.emit(depth, "else:")
            w.emit(depth + 1, slow)
        return
    if shape.object is not None:
        if shape.object.is_resident:  # counted towards max_resident_nodes, or nulled
            admit = f"run.admit({value}, {sel}, {shape_name}, {container}, {key}, {parent})"
            w.emit(depth, f"if {admit}:")
            depth += 1
        out = w.local("d")
        position = f"Slot({parent}, {container}, {key}, {not shape.non_null})"
        w.emit(depth, f"{out} = {{}}")
        w.emit(depth, f"{container}[{key}] = {out}")
        if inlined(shape.object):
            if shape.object.ruled or shape.object.harvested:  # recorded with the level's
                w.emit(depth, f"run.inline_built.add({w.bind('plan', shape.object)})")
            _object(w, depth, shape.object, value, out, position)
        else:
            child = w.bind("plan", shape.object)
            w.emit(depth, f"following.append(({child}, {value}, {out}, {position}))")
        return
    item = shape.item
    assert item is not None
    items, completed, list_slot, index = w.local("items"), w.local("l"), w.local("ls"), w.local("i")
    w.emit(
        depth, f"{items} = run.items({value}, {sel}, {shape_name}, {container}, {key}, {parent})"
    )
    w.emit(depth, f"if {items} is not None:")
    depth += 1
    w.emit(depth, f"{completed} = [None] * len({items})")
    w.emit(depth, f"{container}[{key}] = {completed}")
    # The list's position is made when first needed (an error, a queued child), then reused:
    # most lists need none, and a position is one object per list per parent.
    w.emit(depth, f"{list_slot} = None")
    made = f"Slot({parent}, {container}, {key}, {not shape.non_null})"
    position = f"({list_slot} or ({list_slot} := {made}))"
    element = w.local("e")
    w.emit(depth, f"for {index}, {element} in enumerate({items}):")
    _complete(w, depth + 1, element, item, sel, completed, index, position)


def _fast_leaf(shape: Shape, value: str) -> str | None:
    """A condition under which the value is its own serialisation, for the common types."""
    leaf = shape.leaf_type
    if leaf is GraphQLString or leaf is GraphQLID:
        return f"{value}.__class__ is str"
    if leaf is GraphQLInt:
        return f"{value}.__class__ is int and {INT_MIN} <= {value} <= {INT_MAX}"
    if leaf is GraphQLBoolean:
        return f"{value}.__class__ is bool"
    return None
