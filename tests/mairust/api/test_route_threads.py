"""Sync routes run on the app's own bounded, long-lived threads, keeping what FastAPI reads
from them; no route of the API is left for AnyIO's threads."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from mairust.api.route_threads import (
    THREAD_NAME_PREFIX,
    PooledRoute,
    install_route_threads,
    runs_blocking,
)
from mairust.api.routes import api_router
from tests.support.route_table import api_routes

WORKER_THREADS = 2


class Seen:
    """What the blocking endpoint saw: thread names, and the most calls running at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.running = 0
        self.most = 0


def _app(seen: Seen) -> FastAPI:
    router = APIRouter(route_class=PooledRoute)

    @router.get("/slow")
    def slow(
        pause: Annotated[float, Query(ge=0, le=1, description="Seconds to block.")],
    ) -> dict[str, str]:
        """Blocks like a store call."""
        with seen.lock:
            seen.threads.add(threading.current_thread().name)
            seen.running += 1
            seen.most = max(seen.most, seen.running)
        time.sleep(pause)
        with seen.lock:
            seen.running -= 1
        return {"thread": threading.current_thread().name}

    @router.get("/missing")
    def missing() -> dict[str, str]:
        raise HTTPException(404, "not here")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = install_route_threads(WORKER_THREADS)
        yield
        pool.shutdown(wait=False)

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def client(seen: Seen) -> Iterator[TestClient]:
    with TestClient(_app(seen)) as started:
        yield started


def test_a_sync_route_runs_on_a_route_thread(client: TestClient, seen: Seen) -> None:
    answer = client.get("/slow", params={"pause": 0})
    assert answer.status_code == 200
    assert answer.json()["thread"].startswith(THREAD_NAME_PREFIX)


def test_no_more_run_at_once_than_the_pool_has_threads(client: TestClient, seen: Seen) -> None:
    # Eight requests at once, each blocking for 0.2 s: two run, the rest wait their turn,
    # and every one of them is answered.
    with ThreadPoolExecutor(8) as callers:
        answers = list(callers.map(lambda _: client.get("/slow", params={"pause": 0.2}), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert seen.most == WORKER_THREADS
    assert len(seen.threads) == WORKER_THREADS


def test_the_threads_outlive_the_requests_that_started_them(client: TestClient, seen: Seen) -> None:
    # AnyIO under Serve stopped a worker thread when the request that started it ended;
    # here sixty requests, in waves, are served by the same two threads.
    with ThreadPoolExecutor(4) as callers:
        for _ in range(15):
            list(callers.map(lambda _: client.get("/slow", params={"pause": 0.01}), range(4)))
    assert len(seen.threads) == WORKER_THREADS
    names = {thread.name for thread in threading.enumerate()}
    assert len({name for name in names if name.startswith(THREAD_NAME_PREFIX)}) == WORKER_THREADS


def test_the_wrapped_route_keeps_its_validation_and_document(client: TestClient) -> None:
    # The parameters come from the wrapped function's signature (string annotations here,
    # resolved in this module), so bad input is still FastAPI's 422.
    assert client.get("/slow", params={"pause": "soon"}).status_code == 422
    assert client.get("/slow", params={"pause": 5}).status_code == 422
    operation = client.get("/openapi.json").json()["paths"]["/slow"]["get"]
    assert operation["description"] == "Blocks like a store call."
    assert operation["parameters"][0]["name"] == "pause"


def test_an_error_raised_on_the_thread_is_the_routes_answer(client: TestClient) -> None:
    answer = client.get("/missing")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "not here"}


def test_coroutines_and_generators_are_left_as_they_are() -> None:
    async def answer() -> None: ...

    def stream() -> Iterator[bytes]:
        yield b""

    def block() -> None: ...

    assert not runs_blocking(answer)
    assert not runs_blocking(stream)
    assert runs_blocking(block)


def test_no_api_route_is_left_for_anyios_threads() -> None:
    # Every route of the API is a coroutine function once its router has made it: a new
    # router without route_class=PooledRoute fails here.
    routes = api_routes(api_router.routes)
    assert len(routes) > 50
    left = [f"{sorted(r.methods or ())} {r.path}" for r in routes if runs_blocking(r.endpoint)]
    assert left == []
    wrapped = [inspect.unwrap(r.endpoint) for r in routes if hasattr(r.endpoint, "__wrapped__")]
    assert wrapped, "the API's sync routes are wrapped"
    assert all(runs_blocking(function) for function in wrapped)
