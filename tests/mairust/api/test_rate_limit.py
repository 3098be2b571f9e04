"""Rate limits: token buckets on a clock the test moves (no sleeps), a 429 problem with
Retry-After per token, and log-ins throttled per client address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mairust.api import create_app
from mairust.api.rate_limit import RateLimits
from mairust.config import ApiSettings, Settings
from mairust.model.principal import Role
from mairust.passwords import hash_password
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import ADMIN_TOKEN, AUTH, TOKEN_KEYS, issue_token


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_zero_turns_the_limits_off() -> None:
    limits = RateLimits.from_settings(
        ApiSettings(rate_limit_per_second=0, login_attempts_per_minute=0)
    )
    assert limits.per_token is None and limits.log_ins is None
    for _ in range(1000):
        limits.check_token("token:x")
        limits.check_log_in("127.0.0.1")


# -- through the app -------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited_app(tmp_path: Path, stores: Stores, clock: FakeClock) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path,
        api={
            "admin_token": ADMIN_TOKEN,
            "rate_limit_per_second": 1.0,
            "rate_limit_burst": 2,
            "login_attempts_per_minute": 3,
        },
    )
    app = create_app(settings, stores, TOKEN_KEYS)
    app.state.rate_limits = RateLimits.from_settings(settings.api, clock)
    return app


async def _client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def http(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(limited_app) as client:
        yield client


@pytest.mark.in_process_only("token buckets on a clock the test moves")
async def test_a_token_over_its_rate_gets_429_with_retry_after(http, clock, expect_problem):
    for _ in range(2):
        assert (await http.get("/api/v1/domains", headers=AUTH)).status_code == 200
    refused = await http.get("/api/v1/domains", headers=AUTH)
    problem = expect_problem(refused, 429)
    assert refused.headers["Retry-After"] == "1"
    assert problem["type"] == "urn:mairust:problem:too-many-requests"
    clock.now += 1.0
    assert (await http.get("/api/v1/domains", headers=AUTH)).status_code == 200


@pytest.mark.in_process_only("token buckets on a clock the test moves")
async def test_each_token_has_its_own_bucket(limited_app, http, seeder, expect_problem):
    tenant = seeder.tenant("a.example")
    token = issue_token(limited_app, Role.TENANT_ADMIN, tenant.id)
    for _ in range(2):
        await http.get("/api/v1/domains", headers=AUTH)
    expect_problem(await http.get("/api/v1/domains", headers=AUTH), 429)
    other = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/v1/domains", headers=other)).status_code == 200


@pytest.mark.in_process_only("token buckets on a clock the test moves")
async def test_unknown_tokens_are_401_not_counted(http, expect_problem):
    for _ in range(5):
        bad = await http.get("/api/v1/domains", headers={"Authorization": "Bearer nope"})
        expect_problem(bad, 401)
    assert (await http.get("/api/v1/domains", headers=AUTH)).status_code == 200


@pytest.mark.in_process_only("token buckets on a clock the test moves")
async def test_log_ins_are_throttled_per_client_address(
    limited_app, http, seeder, stores, clock, expect_problem
):
    seeder.tenant("a.example")
    stores.metadata.add_mailbox("alice@a.example", hash_password("right password"))
    wrong = {"address": "alice@a.example", "password": "guess"}
    for _ in range(3):
        expect_problem(await http.post("/api/v1/auth/token", json=wrong), 401)
    refused = await http.post("/api/v1/auth/token", json=wrong)
    expect_problem(refused, 429)
    assert refused.headers["Retry-After"] == "20"  # 3 a minute: one every 20 s
    # Throttled means not even the right password is tried.
    right = {"address": "alice@a.example", "password": "right password"}
    expect_problem(await http.post("/api/v1/auth/token", json=right), 429)
    # Another address has its own allowance.
    async with await _client(limited_app, "192.0.2.7") as elsewhere:
        assert (await elsewhere.post("/api/v1/auth/token", json=right)).status_code == 201
    clock.now += 20
    assert (await http.post("/api/v1/auth/token", json=right)).status_code == 201


async def test_openapi_documents_429_and_the_limits(client):
    schema = (await client.get("/openapi.json")).json()
    assert "api.rate_limit_per_second" in schema["info"]["description"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/"):
                answer = operation["responses"]["429"]
                assert "Retry-After" in answer["headers"], f"{method} {path}"
                assert set(answer["content"]) == {"application/problem+json"}
