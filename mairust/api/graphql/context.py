"""What every resolver gets: the caller and the application, and one way to call a service.

The context is built by a FastAPI dependency from :data:`mairust.api.deps.Caller`, the same
authentication as every REST route: a request without a valid bearer token is answered 401
(problem+json) before GraphQL runs. Services block on the stores, so resolvers run them on
the app's route threads (:mod:`mairust.api.route_threads`, as the REST routes' sync
endpoints run) instead of on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from strawberry.fastapi import BaseContext

from mairust.api.deps import AppDep, Caller
from mairust.model.principal import Principal
from mairust.services.application import Application

P = ParamSpec("P")
T = TypeVar("T")


class GraphQLContext(BaseContext):
    def __init__(self, principal: Principal, application: Application) -> None:
        super().__init__()
        self.principal = principal
        self.application = application

    async def call(self, service_call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``service_call(*args, **kwargs)`` on a route thread. Domain errors propagate;
        :mod:`mairust.api.graphql.errors` turns them into GraphQL errors in one place."""
        return await asyncio.to_thread(service_call, *args, **kwargs)


async def graphql_context(principal: Caller, application: AppDep) -> GraphQLContext:
    """The FastAPI dependency strawberry's router calls for each request."""
    return GraphQLContext(principal, application)
