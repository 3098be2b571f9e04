"""The one place that turns failures inside a GraphQL operation into GraphQL errors.

A domain error raised by a service (or by input checks in a resolver) keeps its message
and gets ``extensions.code``: NotFound → NOT_FOUND (the same answer for a missing id and
another tenant's, invariant 5), Forbidden → FORBIDDEN, InvalidInput → BAD_USER_INPUT,
Conflict → CONFLICT, StorageUnavailable → UNAVAILABLE. Anything else is logged with its
traceback and answered as INTERNAL_SERVER_ERROR without detail. Errors found before
execution (syntax, validation, the depth and cost limits) get GRAPHQL_VALIDATION_FAILED.
Unauthenticated never reaches here: the context dependency answers 401 before GraphQL runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from mairust.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MairustError,
    NotFound,
    StorageUnavailable,
    Unauthenticated,
)

_log = logging.getLogger(__name__)

NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
CONFLICT = "CONFLICT"
UNAVAILABLE = "UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# Domain error -> code; first match wins (subclasses before their bases).
_CODES: tuple[tuple[type[MairustError], str], ...] = (
    (NotFound, NOT_FOUND),
    (Forbidden, FORBIDDEN),
    (InvalidInput, BAD_USER_INPUT),
    (Unauthenticated, UNAUTHENTICATED),
    (Conflict, CONFLICT),
    (StorageUnavailable, UNAVAILABLE),
)


def code_for(error: BaseException) -> str:
    for error_type, code in _CODES:
        if isinstance(error, error_type):
            return code
    return INTERNAL


def presented(error: GraphQLError) -> GraphQLError:
    """``error`` as the client sees it: with a code, and without detail if unexpected."""
    original = error.original_error
    if original is None:
        code = VALIDATION_FAILED
        message = error.message
    elif isinstance(original, GraphQLError):
        # Raised by graphql-core itself during execution (e.g. a bad variable value).
        code = BAD_USER_INPUT
        message = error.message
    else:
        code = code_for(original)
        if code == INTERNAL:
            _log.error("GraphQL resolver failed at %s", error.path, exc_info=original)
            message = "Unexpected error."
        else:
            message = str(original)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


class DomainErrors(SchemaExtension):
    """Rewrites every error of the operation's result with :func:`presented`."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [presented(error) for error in errors]
