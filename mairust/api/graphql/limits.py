"""Bounds on what one GraphQL request may ask for: page sizes, depth, aliases, tokens and cost.

The cost of an operation is counted on its document before it runs: every field selected
costs 1 for each object it may be asked on. A paged field's list (``items``, a thread's
``messages``) holds as many objects as the page may (its ``first`` argument, from the
literal or the variable, or its default); a list without a page argument counts at its
bound here. So twenty
aliased full pages cost twenty times one page, and a request over :data:`MAX_COST` is
refused before any resolver runs. Our own types have no cycles today, so their depth is
bounded by the schema; the depth limit bounds introspection (``ofType`` chains; graphql-core
bounds ``fields`` nesting itself) and whatever field is added next. The standard full
introspection query is deeper than the limit: clients use the committed schema file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from threading import Lock
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
    validate,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from mairust.errors import InvalidInput

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_DEPTH = 10
MAX_ALIASES = 20
MAX_TOKENS = 2_000
MAX_COST = 10_000
# Lists without a page argument, counted at the size they may reach.
_UNPAGED_BOUNDS = {"mailboxes": 500, "folders": 100}
_PAGED_FIELDS = frozenset({"messages", "threads", "search", "thread", "quarantine"})
# The list inside a paged field's answer.
_PAGE_LISTS = frozenset({"items", "messages"})


def page_size(first: int) -> int:
    """``first`` if it is a page size we serve; InvalidInput otherwise."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"'first' must be between 1 and {MAX_PAGE}")
    return first


def operation_cost(
    document: Any, operation_name: str | None, variables: Mapping[str, Any] | None
) -> int:
    """The cost of the operation ``operation_name`` of ``document`` (see the module doc)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    # A variable not given takes its default from the operation, as execution will.
    values = {
        definition.variable.name.value: int(definition.default_value.value)
        for definition in operation.variable_definitions or ()
        if isinstance(definition.default_value, IntValueNode)
    }
    values.update(variables or {})
    return _cost(operation.selection_set, 1, fragments, values, set())


def _cost(
    selections: SelectionSetNode | None,
    multiplier: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    visiting: set[str],
    page: int | None = None,
) -> int:
    """``page`` is the size of the page the selection's parent field returns, if it is
    a paged field: its list (``items``, or a thread's ``messages``) holds that many."""
    total = 0
    for field in _fields(selections, fragments, visiting):
        name = field.name.value
        total += multiplier
        inner, inner_page = multiplier, None
        if page is not None and name in _PAGE_LISTS:
            inner = multiplier * page
        elif name in _PAGED_FIELDS:
            inner_page = _page_size(field, variables)
        elif name in _UNPAGED_BOUNDS:
            inner = multiplier * _UNPAGED_BOUNDS[name]
        total += _cost(field.selection_set, inner, fragments, variables, visiting, inner_page)
    return total


def _fields(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    visiting: set[str],
) -> Iterator[FieldNode]:
    for selection in selections.selections if selections is not None else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            # A fragment that spreads itself is a validation error; do not loop on it.
            if name in fragments and name not in visiting:
                visiting.add(name)
                yield from _fields(fragments[name].selection_set, fragments, visiting)
                visiting.discard(name)


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in field.arguments or ():
        if argument.name.value != "first":
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(1, int(value.value))
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(1, given) if isinstance(given, int) else MAX_PAGE
    return DEFAULT_PAGE


class ValidDocuments:
    """The texts of documents that passed validation, newest last, at most ``size``.

    Validation depends only on the document and the schema's rules, and clients send the
    same few operations again and again (persisted queries, the documented operations), so
    a document seen valid once is not walked by every rule again. Invalid ones are not
    kept: a client cannot fill the memory with them.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._texts: OrderedDict[str, None] = OrderedDict()
        self._lock = Lock()

    def __contains__(self, text: object) -> bool:
        with self._lock:
            if text not in self._texts:
                return False
            self._texts.move_to_end(str(text))
            return True

    def add(self, text: str) -> None:
        with self._lock:
            self._texts[text] = None
            self._texts.move_to_end(text)
            while len(self._texts) > self._size:
                self._texts.popitem(last=False)


class CostLimiter(SchemaExtension):
    """Validates the operation (once per document text, see :class:`ValidDocuments`) and
    refuses one that costs more than ``max_cost`` before it runs."""

    def __init__(self, valid: ValidDocuments, max_cost: int = MAX_COST) -> None:
        self.valid = valid
        self.max_cost = max_cost

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # Validation runs first so the cost is counted on a well-formed operation only;
        # strawberry keeps our errors and does not validate again.
        if document is not None and context.pre_execution_errors is None:
            errors: list[GraphQLError] = []
            if context.query is None or context.query not in self.valid:
                # `_schema` is the graphql-core schema; strawberry's own validation reads it.
                errors = validate(context.schema._schema, document, context.validation_rules)
                if not errors and context.query is not None:
                    self.valid.add(context.query)
            if not errors:
                operation = get_operation_ast(document, context.operation_name)
                if isinstance(operation, OperationDefinitionNode):
                    cost = operation_cost(document, context.operation_name, context.variables)
                    if cost > self.max_cost:
                        errors = [
                            GraphQLError(
                                f"the operation costs {cost}, more than {self.max_cost}; "
                                "ask for smaller pages or fewer fields",
                                nodes=[operation],
                            )
                        ]
            context.pre_execution_errors = errors
        yield


def limit_extensions() -> list[Callable[[], SchemaExtension]]:
    """Factories, so each operation gets its own instances (an extension holds the
    operation's execution context). The limiters add their validation rules when the
    operation starts, before any on_validate hook, so CostLimiter's validation runs them."""
    return [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(CostLimiter, ValidDocuments()),
    ]
