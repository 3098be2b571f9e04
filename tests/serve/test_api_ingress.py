"""serve/api_ingress: the REST API as a Ray Serve ingress over the embedded stores.

One Ray and one Serve app for the module, started as ``mairust up`` starts them: loopback
Ray through ``start_ray``, Serve's HTTP proxy on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import ray
from ray import serve

from cluster.loopback import bind_serve_grpc_to_node_ip
from cluster.ray_runtime import start_ray
from mairust.config import Settings
from mairust.model.scope import PLATFORM
from mairust.storage.factory import migrate, open_stores
from mairust.storage.stores import Stores
from serve.api_ingress import build_api_app

ADMIN_TOKEN = "serve-test-admin-token"
SEEDED_DOMAIN = "seeded.test"
PROBLEM_JSON = "application/problem+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("api") / "data"
    return Settings(data_dir=data_dir, api={"port": free_port(), "admin_token": ADMIN_TOKEN})


@pytest.fixture(scope="module")
def stores(settings: Settings) -> Iterator[Stores]:
    """The stores the API replica serves, opened (created) before the replica opens them."""
    migrate(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("seeded-tenant")
    opened.metadata.add_domain(SEEDED_DOMAIN, tenant.id)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def api(settings: Settings, stores: Stores) -> Iterator[str]:
    """The API running on Serve; its base URL."""
    assert not ray.is_initialized(), "another test left Ray running"
    start_ray(settings)
    try:
        serve.start(http_options={"host": settings.api.host, "port": settings.api.port})
        serve.run(build_api_app(settings, bind_serve_grpc_to_node_ip), name="api", route_prefix="/")
        yield f"http://{settings.api.host}:{settings.api.port}"
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture
def client(api: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=30) as opened:
        yield opened


def auth(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_healthz_answers_ok(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_admin_lists_the_domains_of_the_configured_store(client: httpx.Client) -> None:
    response = client.get("/api/v1/domains", headers=auth())
    assert response.status_code == 200
    [domain] = [d for d in response.json()["items"] if d["name"] == SEEDED_DOMAIN]
    assert domain["tenant"] == "seeded-tenant"


def test_a_domain_created_through_the_api_lands_in_the_store(
    client: httpx.Client, stores: Stores
) -> None:
    response = client.post("/api/v1/domains", headers=auth(), json={"name": "Created.Test"})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "created.test"
    names = {domain.name for domain in stores.metadata.list_domains(PLATFORM)}
    assert "created.test" in names


@pytest.mark.parametrize("headers", [auth("not-the-token"), {}], ids=["wrong", "missing"])
def test_a_bad_token_is_401_problem_json(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get("/api/v1/domains", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["www-authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["status"] == 401
    assert problem["instance"] == "/api/v1/domains"
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in response.text


def test_an_unknown_route_is_404_problem_json(client: httpx.Client) -> None:
    response = client.get("/api/v1/no-such-thing", headers=auth())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 404


def test_graphql_answers_through_the_ingress(client: httpx.Client, stores: Stores) -> None:
    stores.metadata.add_mailbox(f"graphql@{SEEDED_DOMAIN}")
    query = {"query": "{ mailboxes { address } }"}
    response = client.post("/graphql", headers=auth(), json=query)
    assert response.status_code == 200, response.text
    assert {"address": f"graphql@{SEEDED_DOMAIN}"} in response.json()["data"]["mailboxes"]
    refused = client.post("/graphql", json=query)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)
