"""GraphQL at ``/graphql`` (strawberry): mailboxes, folders, messages, threads and search,
with tag, move, flag and delete mutations, over the same services and authentication as
the REST API.

Only POST and GET (queries only) over HTTP: no subscriptions, no websocket, no IDE page.
The schema is committed in ``docs/graphql/schema.graphql`` and the operations clients use
in ``docs/graphql/operations.graphql``, so no client needs introspection at run time.
"""

from __future__ import annotations

from typing import Any

import strawberry
from fastapi.routing import APIWebSocketRoute
from graphql import GraphQLError
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionContext

from mairust.api.graphql.context import GraphQLContext, graphql_context
from mairust.api.graphql.errors import DomainErrors
from mairust.api.graphql.limits import limit_extensions
from mairust.api.graphql.mutations import Mutation
from mairust.api.graphql.queries import Query

GRAPHQL_PATH = "/graphql"


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # DomainErrors logs what is unexpected, once; a NotFound is an answer, not a fault.
        return None


def build_schema() -> strawberry.Schema:
    return _Schema(query=Query, mutation=Mutation, extensions=[DomainErrors, *limit_extensions()])


def graphql_router(schema: strawberry.Schema | None = None) -> GraphQLRouter[Any, None]:
    """The router serving ``schema`` at :data:`GRAPHQL_PATH`, behind the bearer token."""
    router: GraphQLRouter[GraphQLContext, None] = GraphQLRouter(
        schema or build_schema(),
        path=GRAPHQL_PATH,
        graphql_ide=None,
        context_getter=graphql_context,
        # Documented in docs/graphql/, not in the REST OpenAPI document.
        include_in_schema=False,
    )
    router.routes = [route for route in router.routes if not isinstance(route, APIWebSocketRoute)]
    return router


__all__ = ["GRAPHQL_PATH", "build_schema", "graphql_router"]
