"""The /graphql endpoint as mounted: POST and GET (queries only), no websocket, no IDE;
the committed schema and operations match the code, so clients need no introspection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from graphql import parse, validate

from mairust.api.graphql import GRAPHQL_PATH, build_schema
from mairust.model.scope import PLATFORM
from mairust.storage.stores import Stores
from tests.mairust.api.graphql.conftest import GraphQL, World

DOCS = Path(__file__).parents[4] / "docs" / "graphql"


def test_the_committed_schema_is_the_served_one() -> None:
    # Regenerate with: python -c "from mairust.api.graphql import build_schema;
    # print(build_schema().as_str())" > docs/graphql/schema.graphql
    assert (DOCS / "schema.graphql").read_text() == build_schema().as_str() + "\n"


def test_the_documented_operations_are_valid() -> None:
    schema = build_schema()._schema
    assert validate(schema, parse((DOCS / "operations.graphql").read_text())) == []


def _walk(routes: list[Any]) -> list[Any]:
    found: list[Any] = []
    for route in routes:
        found.append(route)
        if hasattr(route, "original_router"):
            found.extend(_walk(route.original_router.routes))
    return found


@pytest.mark.in_process_only("inspects the app's route table")
def test_mounted_for_http_only(app: FastAPI) -> None:
    routes = [r for r in _walk(app.routes) if getattr(r, "path", None) == GRAPHQL_PATH]
    assert {m for r in routes if isinstance(r, APIRoute) for m in r.methods or ()} == {
        "GET",
        "POST",
    }
    assert not [r for r in routes if isinstance(r, APIWebSocketRoute)]


async def test_get_runs_queries_but_not_mutations(
    graphql: GraphQL, world: World, stores: Stores
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    ok = await graphql.http.get(
        "/graphql", params={"query": "{ mailboxes { address } }"}, headers=headers
    )
    assert ok.status_code == 200
    assert ok.json()["data"] == {"mailboxes": [{"address": "alice@a.example"}]}
    mutation = f'mutation {{ deleteMessage(id: "{world.other.id}") {{ id }} }}'
    refused = await graphql.http.get("/graphql", params={"query": mutation}, headers=headers)
    assert refused.status_code == 400
    assert "mutations are not allowed" in refused.text.lower()
    assert stores.metadata.get_entry(PLATFORM, world.other.id).folder == "INBOX"
    # No IDE page either: a GET without a query is not an HTML page.
    page = await graphql.http.get("/graphql", headers={**headers, "Accept": "text/html"})
    assert "html" not in page.headers.get("content-type", "")


async def test_graphql_is_not_in_the_rest_openapi_document(graphql: GraphQL) -> None:
    schema = (await graphql.http.get("/openapi.json")).json()
    assert GRAPHQL_PATH not in schema["paths"]
