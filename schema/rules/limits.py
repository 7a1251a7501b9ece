"""Document limits checked while parsing, before validation can spend time on a hostile document.

`parse_within(source, limits)` refuses a document that is too long before lexing it, stops
the parser at `max_tokens` tokens (and as many comments), then measures the parsed
document in one pass — operations, fragments (definitions, inline fragments and spreads),
directives, aliases, field selections, depth — and refuses it with QUERY_TOO_COMPLEX
naming the bound it broke. Every step is linear in the bounded token count, so the worst
document costs a few milliseconds; validation only ever sees documents within the bounds,
which keeps its quadratic rules (overlapping fields) cheap.

Depth counts nested field selections as strawberry's QueryDepthLimiter does (`{ me { id } }`
is 1), following fragment spreads; introspection fields (`__schema`, `__type`) are not
counted. Fragment cycles are left to validation, which reports them.

One more bound has no setting: a response name may appear at most `MAX_REPEATS` times in one
selection set (inline fragments and spread fragments merged in, as execution merges them).
Validation compares every pair of same-named fields (OverlappingFieldsCanBeMerged), so 500
copies of one field cost it 125,000 comparisons; no sensible query repeats a field 16 times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from schema.errors import QUERY_TOO_COMPLEX

MAX_REPEATS = 16


@dataclass(frozen=True)
class DocumentLimits:
    """The bounds on one document; README's "Limits" lists each with its setting."""

    max_chars: int = 32 * 1024
    max_tokens: int = 1000
    max_operations: int = 8
    max_fragments: int = 64
    max_directives: int = 32
    max_depth: int = 12
    max_aliases: int = 30
    max_fields: int = 500


class DocumentTooComplexError(GraphQLError):
    def __init__(self, message: str, **details: int) -> None:
        super().__init__(message, extensions={"code": QUERY_TOO_COMPLEX, **details})


@dataclass
class DocumentShape:
    """What one pass over a parsed document counts."""

    operations: int = 0
    fragments: int = 0
    directives: int = 0
    aliases: int = 0
    fields: int = 0
    depth: int = 0
    repeats: int = 0
    repeated: str = ""
    definitions: dict[str, FragmentDefinitionNode] = field(default_factory=dict)


def parse_within(source: str, limits: DocumentLimits) -> DocumentNode:
    """Parse `source`, refusing it (QUERY_TOO_COMPLEX) as soon as it breaks a limit."""
    if len(source) > limits.max_chars:
        raise DocumentTooComplexError(
            f"the document has {len(source)} characters; at most {limits.max_chars} are "
            "accepted: send a smaller document",
            characters=len(source),
            maximumCharacters=limits.max_chars,
        )
    try:
        document = parse(
            source, max_lexical_tokens=limits.max_tokens, max_comments=limits.max_tokens
        )
    except GraphQLSyntaxError as error:
        if "nested too deeply" in error.message:
            raise DocumentTooComplexError(
                "the document is nested too deeply to parse; nest the selection less deeply",
                maximumDepth=limits.max_depth,
            ) from None
        if "Parsing aborted" in error.message:
            raise DocumentTooComplexError(
                f"the document has more than {limits.max_tokens} tokens (or comments); "
                "send a smaller document",
                maximumTokens=limits.max_tokens,
            ) from None
        raise
    shape = measure(document)
    check_shape(shape, limits)  # the counts first: they bound the depth walk below
    shape.depth = depth_of(document, shape)
    check_shape(shape, limits)
    shape.repeated, shape.repeats = most_repeated(document, shape)
    if shape.repeats > MAX_REPEATS:
        raise DocumentTooComplexError(
            f"the document selects `{shape.repeated}` {shape.repeats} times in one selection; "
            f"at most {MAX_REPEATS} are accepted: select each field once",
            repeats=shape.repeats,
            maximumRepeats=MAX_REPEATS,
        )
    return document


def check_shape(shape: DocumentShape, limits: DocumentLimits) -> None:
    bounds = (
        ("operations", shape.operations, limits.max_operations, "send one operation per document"),
        ("fragments", shape.fragments, limits.max_fragments, "inline fewer fragments"),
        ("directives", shape.directives, limits.max_directives, "use fewer directives"),
        ("aliases", shape.aliases, limits.max_aliases, "ask for fewer aliased fields"),
        ("fields", shape.fields, limits.max_fields, "select fewer fields"),
        ("depth", shape.depth, limits.max_depth, "nest the selection less deeply"),
    )
    for name, found, allowed, fix in bounds:
        if found > allowed:
            label = "nested" if name == "depth" else "has"
            amount = f"{found} levels deep" if name == "depth" else f"{found} {name}"
            raise DocumentTooComplexError(
                f"the document {label} {amount}; at most {allowed} are accepted: {fix}",
                **{name: found, "maximum" + name.capitalize(): allowed},
            )


def measure(document: DocumentNode) -> DocumentShape:
    """Count what `check_shape` bounds, in one iterative pass (depth comes separately)."""
    shape = DocumentShape()
    for definition in document.definitions:
        shape.directives += len(definition.directives or ())  # type: ignore[attr-defined]
        if isinstance(definition, OperationDefinitionNode):
            shape.operations += 1
            for variable in definition.variable_definitions or ():
                shape.directives += len(variable.directives or ())
        elif isinstance(definition, FragmentDefinitionNode):
            shape.fragments += 1
            shape.definitions[definition.name.value] = definition
        _count(definition.selection_set, shape)  # type: ignore[attr-defined]
    return shape


def depth_of(document: DocumentNode, shape: DocumentShape) -> int:
    """The deepest operation's depth (call it once the counts are within their bounds)."""
    depths = _FragmentDepths(shape.definitions)
    operations = (d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return max((depths.of(op.selection_set) for op in operations), default=0)


def _count(selection_set: SelectionSetNode | None, shape: DocumentShape) -> None:
    stack = [selection_set] if selection_set is not None else []
    while stack:
        current = stack.pop()
        for selection in current.selections:
            shape.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                shape.fields += 1
                shape.aliases += selection.alias is not None
            else:
                shape.fragments += 1
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                stack.append(inner)


class _FragmentDepths:
    """Depths of selection sets, following spreads; each fragment measured once."""

    def __init__(self, definitions: dict[str, FragmentDefinitionNode]) -> None:
        self.definitions = definitions
        self.known: dict[str, int] = {}
        self.visiting: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__") or selection.selection_set is None:
                    continue
                deepest = max(deepest, 1 + self.of(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.of(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(selection.name.value))
        return deepest

    def _fragment(self, name: str) -> int:
        if name in self.known:
            return self.known[name]
        definition = self.definitions.get(name)
        if definition is None or name in self.visiting:  # unknown or cyclic: validation says
            return 0
        self.visiting.add(name)
        depth = self.of(definition.selection_set)
        self.visiting.discard(name)
        self.known[name] = depth
        return depth


def most_repeated(document: DocumentNode, shape: DocumentShape) -> tuple[str, int]:
    """The response name repeated most often in one selection set, and how often."""
    collector = _Collector(shape.definitions)
    worst: tuple[str, int] = ("", 0)
    stack: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        selection_set = stack.pop()
        counts: Counter[str] = Counter()
        collector.collect(selection_set, counts, stack)
        if counts:
            name, times = counts.most_common(1)[0]
            if times > worst[1]:
                worst = (name, times)
    return worst


class _Collector:
    """Response names of a selection set with its fragments merged in, as execution does."""

    def __init__(self, definitions: dict[str, FragmentDefinitionNode]) -> None:
        self.definitions = definitions
        self.fragments: dict[str, Counter[str]] = {}

    def collect(
        self,
        selection_set: SelectionSetNode,
        counts: Counter[str],
        nested: list[SelectionSetNode] | None = None,
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                counts[(selection.alias or selection.name).value] += 1
                if nested is not None and selection.selection_set is not None:
                    nested.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                self.collect(selection.selection_set, counts, nested)
            elif isinstance(selection, FragmentSpreadNode):
                counts.update(self._fragment(selection.name.value))

    def _fragment(self, name: str) -> Counter[str]:
        known = self.fragments.get(name)
        if known is None:
            self.fragments[name] = known = Counter()  # a cycle sees it empty
            definition = self.definitions.get(name)
            if definition is not None:
                self.collect(definition.selection_set, known)
        return known
