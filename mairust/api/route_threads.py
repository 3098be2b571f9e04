"""Where the API's blocking route code runs: one bounded thread pool per app, not AnyIO's.

The stores block, so most route functions are plain ``def``. FastAPI would run each of
them through AnyIO's worker threads, twice a request (the function, then serializing its
answer). Under Ray Serve that goes wrong: Serve drives the app's event loop with
``run_forever``, so AnyIO finds no root task and takes the request's own task for one. It
scans every task of the loop on each hop, and ties each new worker thread's life to the
request that started it: under the API benchmark's 32 clients the replica started and
stopped a thread for most requests (539 threads in one minute).

:class:`PooledRoute` (every router's ``route_class``) wraps a sync route function in a
coroutine that runs it with :func:`asyncio.to_thread`: the loop's default executor, which
:func:`install_route_threads` sets at start-up to a pool of ``api.worker_threads``
threads that live as long as the app. FastAPI then serializes the answer on the loop, with
no second hop. ``tests/mairust/api/test_route_threads.py`` fails for a route left sync.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.routing import APIRoute

THREAD_NAME_PREFIX = "api-route"


def in_route_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function that runs it in the loop's default executor.

    ``functools.wraps`` keeps what FastAPI reads: the signature (through ``__wrapped__``),
    the module globals its string annotations resolve in, the name and the docstring."""

    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    return run


def runs_blocking(endpoint: Callable[..., Any]) -> bool:
    """A plain function FastAPI would hand to AnyIO's threads (not a coroutine function,
    not a generator, which FastAPI streams)."""
    return not (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    )


class PooledRoute(APIRoute):
    """An API route whose sync endpoint runs on the app's route threads."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if runs_blocking(endpoint):
            endpoint = in_route_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def install_route_threads(worker_threads: int) -> ThreadPoolExecutor:
    """Make a pool of ``worker_threads`` the running loop's default executor (what
    :func:`asyncio.to_thread` uses); the caller shuts it down when the app stops."""
    pool = ThreadPoolExecutor(max_workers=worker_threads, thread_name_prefix=THREAD_NAME_PREFIX)
    asyncio.get_running_loop().set_default_executor(pool)
    return pool
