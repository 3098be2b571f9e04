"""Full-text search through the API: hits, paging, mailbox filter, empty queries, tenants."""

from __future__ import annotations

import pytest

from mairust.api.deps import current_scope
from mairust.model.mailbox import SearchDocument
from mairust.model.scope import Scope


@pytest.fixture
def mail(seeder):
    """Jane and Joe at example.com, Olga at other.example, each with some messages."""
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    joe = seeder.mailbox("joe@example.com")
    seeder.tenant("other.example")
    olga = seeder.mailbox("olga@other.example")
    return {
        "jane": jane,
        "joe": joe,
        "olga": olga,
        "jane_invoice": seeder.deliver(
            jane, seeder.message(subject="Invoice March", body="Please pay the invoice.")
        ),
        "jane_lunch": seeder.deliver(jane, seeder.message(subject="Lunch", body="Pizza at noon")),
        "joe_invoice": seeder.deliver(
            joe, seeder.message(subject="Your invoice", body="Invoice attached", to=joe.address)
        ),
        "olga_invoice": seeder.deliver(
            olga, seeder.message(subject="Invoice from Olga", body="invoice", to=olga.address)
        ),
    }


async def test_search_returns_summaries_with_score_and_snippet(client, mail):
    response = await client.get("/api/v1/search", params={"q": "invoice"})
    assert response.status_code == 200
    page = response.json()
    ids = {item["id"] for item in page["items"]}
    assert ids == {mail["jane_invoice"].id, mail["joe_invoice"].id, mail["olga_invoice"].id}
    for item in page["items"]:
        assert isinstance(item["score"], float)
        assert "invoice" in item["snippet"].lower()
        assert {"id", "mailbox", "from", "to", "subject", "folder", "tags"} <= set(item)
    scores = [item["score"] for item in page["items"]]
    assert scores == sorted(scores, reverse=True)
    assert (page["limit"], page["offset"], page["next_offset"]) == (50, 0, None)


async def test_every_word_must_match(client, mail):
    page = (await client.get("/api/v1/search", params={"q": "invoice march"})).json()
    assert [item["id"] for item in page["items"]] == [mail["jane_invoice"].id]


async def test_engine_syntax_is_searched_as_words(client, mail):
    response = await client.get("/api/v1/search", params={"q": 'invoice OR "lunch" NEAR(*'})
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_search_in_one_mailbox(client, mail):
    page = (
        await client.get("/api/v1/search", params={"q": "invoice", "mailbox": "joe@example.com"})
    ).json()
    assert [item["id"] for item in page["items"]] == [mail["joe_invoice"].id]
    assert page["items"][0]["mailbox"] == "joe@example.com"


async def test_search_pages_with_offset(client, mail):
    first = (await client.get("/api/v1/search", params={"q": "invoice", "limit": 2})).json()
    assert len(first["items"]) == 2
    assert first["next_offset"] == 2
    second = (
        await client.get("/api/v1/search", params={"q": "invoice", "limit": 2, "offset": 2})
    ).json()
    assert len(second["items"]) == 1
    assert second["next_offset"] is None
    all_ids = {i["id"] for i in first["items"]} | {i["id"] for i in second["items"]}
    assert len(all_ids) == 3


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {}])
async def test_an_empty_query_is_a_422(client, mail, expect_problem, params):
    problem = expect_problem(await client.get("/api/v1/search", params=params), 422)
    assert problem["type"] in (
        "urn:mairust:problem:validation-error",
        "urn:mairust:problem:invalid-input",
    )


@pytest.mark.parametrize(
    "params",
    [{"q": "x", "limit": 0}, {"q": "x", "limit": 501}, {"q": "x", "offset": -1}, {"q": "x" * 1001}],
)
async def test_bad_paging_is_a_422(client, expect_problem, params):
    expect_problem(await client.get("/api/v1/search", params=params), 422)


async def test_unknown_mailbox_is_a_404(client, mail, expect_problem):
    response = await client.get("/api/v1/search", params={"q": "x", "mailbox": "no@example.com"})
    expect_problem(response, 404)


async def test_a_tenant_finds_only_its_own_messages(app, client, mail, expect_problem):
    app.dependency_overrides[current_scope] = lambda: Scope.tenant(mail["jane"].tenant_id)
    page = (await client.get("/api/v1/search", params={"q": "invoice"})).json()
    assert {item["id"] for item in page["items"]} == {
        mail["jane_invoice"].id,
        mail["joe_invoice"].id,
    }
    foreign = await client.get(
        "/api/v1/search", params={"q": "invoice", "mailbox": "olga@other.example"}
    )
    expect_problem(foreign, 404)


async def test_a_hit_whose_entry_is_out_of_scope_is_left_out(app, client, seeder, mail):
    """An index document pointing at another tenant's entry must not leak it."""
    stale = seeder.stores.metadata.get_entry(Scope.admin(), mail["olga_invoice"].id)
    seeder.stores.search.index(
        [
            SearchDocument(
                entry_id=stale.id,
                tenant_id=mail["jane"].tenant_id,  # wrongly indexed under Jane's tenant
                mailbox_id=mail["jane"].id,
                subject="zebra",
                from_addr="",
                to_addrs=(),
                body="",
                received_at=stale.received_at,
            )
        ]
    )
    app.dependency_overrides[current_scope] = lambda: Scope.tenant(mail["jane"].tenant_id)
    page = (await client.get("/api/v1/search", params={"q": "zebra"})).json()
    assert page["items"] == []
