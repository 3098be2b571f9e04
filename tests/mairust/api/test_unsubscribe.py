"""``POST /api/v1/unsubscribe/{token}``: one-click unsubscribe (RFC 8058) without a bearer
token. A valid link suppresses its address in its tenant once (a repeat changes nothing);
a forged, expired or malformed token is a 404, a body that is not the one-click form a
422, a GET a 405, every refusal a problem document and no change."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from mairust.outbound.unsubscribe import UnsubscribeTokens
from mairust.storage.stores import Stores

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def tokens(app: FastAPI) -> UnsubscribeTokens:
    found: UnsubscribeTokens = app.state.application.unsubscribe.tokens
    return found


def tenant(stores: Stores, name: str) -> str:
    made = stores.metadata.create_tenant(name)
    stores.metadata.add_domain(f"{name}.example", made.id)
    return made.id


async def test_a_valid_link_suppresses_its_address_once(app, stores, connect):
    ours, other = tenant(stores, "news"), tenant(stores, "other")
    token = tokens(app).issue(ours, "Joe@Remote.example", 3600)
    url = f"/api/v1/unsubscribe/{token}"
    async with connect() as provider:  # no bearer token: the link's token is the credential
        first = await provider.post(url, data=ONE_CLICK)
        assert first.status_code == 200, first.text
        assert first.json() == {"unsubscribed": True, "already": False}
        again = await provider.post(
            url, files={"List-Unsubscribe": (None, "One-Click")}
        )  # multipart/form-data, RFC 8058 allows both
        assert again.status_code == 200, again.text
        assert again.json() == {"unsubscribed": True, "already": True}
    async with connect("t") as admin:
        listed = await admin.get("/api/v1/suppressions", params={"tenant_id": ours})
        elsewhere = await admin.get("/api/v1/suppressions", params={"tenant_id": other})
    [entry] = listed.json()["items"]
    assert (entry["address"], entry["reason"]) == ("joe@remote.example", "unsubscribe")
    assert elsewhere.json()["items"] == []


async def test_bad_tokens_are_404_and_bad_bodies_422_and_nothing_changes(
    app, stores, connect, expect_problem
):
    ours = tenant(stores, "news")
    valid = tokens(app).issue(ours, "joe@remote.example", 3600)
    expired = tokens(app).issue(ours, "joe@remote.example", -5)
    foreign = UnsubscribeTokens.from_digest_keys([b"x" * 32]).issue(ours, "joe@remote.example", 60)
    version, payload, mac = valid.split(".")
    altered = f"{version}.{payload[:-2]}AA.{mac}"
    async with connect() as provider:
        for token in (expired, foreign, altered, "u1.e30.AAAA", "nonsense"):
            refused = await provider.post(f"/api/v1/unsubscribe/{token}", data=ONE_CLICK)
            problem = expect_problem(refused, 404)
            assert problem["type"] == "urn:mairust:problem:not-found"
        url = f"/api/v1/unsubscribe/{valid}"
        for body in ({}, {"List-Unsubscribe": "Yes"}, {"other": "One-Click"}):
            expect_problem(await provider.post(url, data=body), 422)
        expect_problem(await provider.post(url, json=ONE_CLICK), 422)
        expect_problem(
            await provider.post(
                url, content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
            ),
            422,
        )
        # Link scanners GET every URL: a GET must never unsubscribe.
        fetched = await provider.get(url)
        assert fetched.status_code == 405
        assert "POST" in fetched.headers.get("allow", "")
    assert stores.metadata.list_suppressions(ours) == []


@pytest.mark.parametrize("bearer", ["t", "nonsense"])
async def test_a_bearer_token_is_neither_needed_nor_in_the_way(app, stores, connect, bearer):
    ours = tenant(stores, "news")
    token = tokens(app).issue(ours, f"{bearer}@remote.example", 3600)
    async with connect(bearer) as caller:
        answer = await caller.post(f"/api/v1/unsubscribe/{token}", data=ONE_CLICK)
    assert answer.status_code == 200, answer.text
    assert [e.address for e in stores.metadata.list_suppressions(ours)] == [
        f"{bearer}@remote.example"
    ]
