"""mairust.api.regions: a tenant homed in another region is answered there (307)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mairust.api import create_app
from mairust.config import Settings
from mairust.model.principal import Role
from mairust.storage.factory import migrate, open_stores
from tests.mairust.api.conftest import ADMIN_TOKEN, TOKEN_KEYS, issue_token
from tests.support.regions import write_regions


@pytest.fixture
async def region_a(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The API of region ``a`` of a two-region config (``b``'s API: 127.0.0.1:8002)."""
    regions = write_regions(tmp_path / "regions.toml", "a")
    settings = Settings(
        data_dir=tmp_path / "a",
        api={"admin_token": ADMIN_TOKEN},
        regions={"file": str(regions)},
    )
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    yield create_app(settings, stores, TOKEN_KEYS)
    stores.close()


def connect(app: FastAPI, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_tenant_homed_elsewhere_is_redirected_to_its_home(region_a: FastAPI) -> None:
    async with connect(region_a, ADMIN_TOKEN) as admin:
        made = await admin.post("/api/v1/tenants", json={"name": "away", "home_region": "b"})
        assert made.status_code == 201, made.text
        assert made.json()["home_region"] == "b"
        here = await admin.post("/api/v1/tenants", json={"name": "here"})
        assert here.json()["home_region"] is None
        unknown = await admin.post("/api/v1/tenants", json={"name": "x", "home_region": "z"})
        assert unknown.status_code == 422
        assert "z" in unknown.json()["detail"]
    away = issue_token(region_a, Role.TENANT_ADMIN, made.json()["id"])
    async with connect(region_a, away) as client:
        answer = await client.get("/api/v1/domains?limit=5")
        assert answer.status_code == 307
        assert answer.headers["location"] == "http://127.0.0.1:8002/api/v1/domains?limit=5"
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "urn:mairust:problem:homed-elsewhere"
        assert problem["status"] == 307
        # The method and body are kept (307): a POST is sent on to the same path.
        posted = await client.post("/api/v1/domains", json={"name": "away.test"})
        assert posted.status_code == 307
        assert posted.headers["location"] == "http://127.0.0.1:8002/api/v1/domains"
    local = issue_token(region_a, Role.TENANT_ADMIN, here.json()["id"])
    async with connect(region_a, local) as client:
        assert (await client.get("/api/v1/domains")).status_code == 200


async def test_a_token_of_another_region_is_redirected_there_unchecked(region_a: FastAPI) -> None:
    async with connect(region_a, ADMIN_TOKEN) as admin:
        made = await admin.post("/api/v1/tenants", json={"name": "here"})
    own = issue_token(region_a, Role.TENANT_ADMIN, made.json()["id"])
    assert own.startswith("mrt_a_")  # a's tokens name a
    async with connect(region_a, own) as client:
        assert (await client.get("/api/v1/domains")).status_code == 200
    # Any token naming b, valid there or not, goes to b's API: nothing is looked up here.
    for token in ("mrt_b_" + own.removeprefix("mrt_a_"), "mrt_b_anything"):
        async with connect(region_a, token) as client:
            answer = await client.post("/api/v1/send?x=1", json={"to": ["kim@away.test"]})
        assert answer.status_code == 307
        assert answer.headers["location"] == "http://127.0.0.1:8002/api/v1/send?x=1"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:mairust:problem:token-of-another-region"
        assert token not in answer.text  # the token is never echoed
    # A token naming a, or a region no config names, is checked here: 401.
    for token in ("mrt_a_" + "x" * 43, "mrt_z_" + own.removeprefix("mrt_a_")):
        async with connect(region_a, token) as client:
            assert (await client.get("/api/v1/domains")).status_code == 401


async def test_the_admin_api_sets_a_tenant_s_home_region(region_a: FastAPI) -> None:
    async with connect(region_a, ADMIN_TOKEN) as admin:
        made = await admin.post("/api/v1/tenants", json={"name": "later"})
        tenant_id = made.json()["id"]
        moved = await admin.patch("/api/v1/tenants/later", json={"home_region": "b"})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["id"], moved.json()["home_region"]) == (tenant_id, "b")
        unknown = await admin.patch(f"/api/v1/tenants/{tenant_id}", json={"home_region": "z"})
        assert unknown.status_code == 422 and "'z'" in unknown.json()["detail"]
        missing = await admin.patch("/api/v1/tenants/nobody", json={"home_region": "b"})
        assert missing.status_code == 404
        held = await admin.post("/api/v1/tenants", json={"name": "held"})
        await admin.post("/api/v1/domains", json={"name": "held.test", "tenant": "held"})
        await admin.post("/api/v1/users", json={"address": "u@held.test"})
        refused = await admin.patch("/api/v1/tenants/held", json={"home_region": "b"})
        assert refused.status_code == 409, refused.text
        tenants = (await admin.get("/api/v1/tenants")).json()["items"]
        listed = {t["name"]: t["home_region"] for t in tenants}
        assert listed == {"later": "b", "held": None}
    assert held.status_code == 201
    later = issue_token(region_a, Role.TENANT_ADMIN, tenant_id)
    async with connect(region_a, later) as client:
        assert (await client.get("/api/v1/domains")).status_code == 307
    tenant = issue_token(region_a, Role.TENANT_ADMIN, held.json()["id"])
    async with connect(region_a, tenant) as client:
        refused = await client.patch("/api/v1/tenants/held", json={"home_region": None})
        assert refused.status_code == 403
