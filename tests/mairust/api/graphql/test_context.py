"""/graphql authenticates exactly like REST: no valid bearer token, a 401 problem before
GraphQL runs; a valid one reaches the resolvers with its principal."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from mairust.model.principal import Principal
from mairust.services.application import Application
from tests.mairust.api.conftest import AUTH, ProblemCheck
from tests.mairust.api.graphql.conftest import GraphQL, World

QUERY = {"query": "{ mailboxes { id } }"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer mrt_not-a-token"},
        {"Authorization": "Basic dXNlcjpwdw=="},
    ],
)
async def test_without_a_valid_token_is_401_problem(
    anonymous: httpx.AsyncClient, expect_problem: ProblemCheck, headers: dict[str, str]
) -> None:
    for response in (
        await anonymous.post("/graphql", json=QUERY, headers=headers),
        await anonymous.get("/graphql", params=QUERY, headers=headers),
    ):
        problem = expect_problem(response, 401)
        assert problem["type"] == "urn:mairust:problem:unauthorized"
        assert "data" not in response.json()


async def test_a_revoked_token_is_401(
    graphql: GraphQL, world: World, app: FastAPI, expect_problem: ProblemCheck
) -> None:
    assert (await graphql(QUERY["query"], token="b")).errors == []
    application: Application = app.state.application
    admin = Principal.platform("test", "test")
    [token] = [t for t in application.tokens.list_tokens(admin) if t.tenant_id == world.b.id]
    # Revoked through the API (the replica that revokes forgets the token at once).
    revoked = await graphql.http.delete(f"/api/v1/tokens/{token.id}", headers=AUTH)
    assert revoked.status_code == 200, revoked.text
    response = await graphql.http.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {world.tokens['b']}"}
    )
    expect_problem(response, 401)
