"""Full-text search through the API: hits, paging, mailbox filter, empty queries, tenants,
and the query language (phrases and filters) in ``q``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.model.mailbox import SearchDocument
from mairust.model.scope import PLATFORM
from tests.mairust.api.conftest import act_as_tenant


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
    act_as_tenant(app, client, mail["jane"].tenant_id)
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
    stale = seeder.stores.metadata.get_entry(PLATFORM, mail["olga_invoice"].id)
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
    act_as_tenant(app, client, mail["jane"].tenant_id)
    page = (await client.get("/api/v1/search", params={"q": "zebra"})).json()
    assert page["items"] == []


@pytest.fixture
def shelf(seeder):
    """Jane's messages with distinct senders, recipients, subjects, labels and days."""
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    day = datetime(2025, 3, 10, tzinfo=UTC)
    message = seeder.message

    def deliver(name, raw, **labels):
        return name, seeder.deliver(jane, raw, **labels).id

    named = dict(
        [
            deliver(
                "hangar",
                message(
                    subject="Hangar report",
                    body="The hangar nineteen doors are open.",
                    sender="ops@airfield.test",
                ),
                tags=("ops", "Urgent"),
                received_at=day,
            ),
            deliver(
                "scrambled",
                message(
                    subject="Weekly note",
                    body="nineteen planes left hangar four",
                    sender="pilot@mail.airfield.test",
                    to="jane@example.com, finance@example.com",
                ),
                folder="Archive/2025 Q1",
                received_at=day + timedelta(days=1),
            ),
            deliver(
                "invoice",
                message(
                    subject="Invoice March",
                    body="Please pay the invoice.",
                    sender="billing@vendor.test",
                ),
                tags=("finance",),
                received_at=day - timedelta(seconds=1),
            ),
        ]
    )
    return named


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"hangar nineteen"', ["hangar"]),
        ("hangar nineteen", ["scrambled", "hangar"]),
        ("from:airfield.test", ["scrambled", "hangar"]),
        ("from:@mail.airfield.test", ["scrambled"]),
        ("from:OPS@airfield.test", ["hangar"]),
        ("from:field.test", []),
        ("to:finance@example.com", ["scrambled"]),
        ("to:example.com", ["scrambled", "hangar", "invoice"]),
        ("subject:report", ["hangar"]),
        ("subject:hangar nineteen", ["hangar"]),  # "hangar" in the subject, "nineteen" anywhere
        ("tag:Urgent", ["hangar"]),
        ("tag:urgent", []),
        ('folder:"Archive/2025 Q1"', ["scrambled"]),
        ("folder:INBOX", ["hangar", "invoice"]),
        ("after:2025-03-10", ["scrambled", "hangar"]),
        ("before:2025-03-10", ["invoice"]),
        ("after:2025-03-10 before:2025-03-11", ["hangar"]),
        ("hangar from:airfield.test folder:INBOX tag:ops after:2025-03-01", ["hangar"]),
        ("invoice tag:ops", []),
    ],
)
async def test_query_language_through_q(client, shelf, q, expected):
    response = await client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    ids = [item["id"] for item in response.json()["items"]]
    assert sorted(ids) == sorted(shelf[name] for name in expected)


async def test_a_phrase_hit_has_the_phrase_in_its_snippet(client, shelf):
    page = (await client.get("/api/v1/search", params={"q": '"hangar nineteen"'})).json()
    assert "hangar nineteen" in page["items"][0]["snippet"].lower()


async def test_filters_alone_page_newest_first(client, shelf):
    first = (await client.get("/api/v1/search", params={"q": "to:example.com", "limit": 2})).json()
    assert [item["id"] for item in first["items"]] == [shelf["scrambled"], shelf["hangar"]]
    assert first["next_offset"] == 2
    assert all(item["score"] == 0.0 and item["snippet"] == "" for item in first["items"])
    rest = (
        await client.get("/api/v1/search", params={"q": "to:example.com", "limit": 2, "offset": 2})
    ).json()
    assert [item["id"] for item in rest["items"]] == [shelf["invoice"]]
    assert rest["next_offset"] is None


@pytest.mark.parametrize(
    ("q", "detail"),
    [
        ("invoice after:2025-02-30", "YYYY-MM-DD"),
        ("before:tomorrow", "YYYY-MM-DD"),
        ("from:billing@", "address or a domain"),
        ("subject:!!", "no word"),
    ],
)
async def test_a_bad_filter_value_is_a_422(client, shelf, expect_problem, q, detail):
    problem = expect_problem(await client.get("/api/v1/search", params={"q": q}), 422)
    assert problem["type"] == "urn:mairust:problem:invalid-input"
    assert detail in problem["detail"]


async def test_filters_keep_to_the_tenant(app, client, shelf, seeder):
    seeder.tenant("other.example")
    olga = seeder.mailbox("olga@other.example")
    seeder.deliver(olga, seeder.message(subject="Hangar", to=olga.address), tags=("ops",))
    act_as_tenant(app, client, olga.tenant_id)
    page = (await client.get("/api/v1/search", params={"q": "tag:ops"})).json()
    assert len(page["items"]) == 1
    assert page["items"][0]["mailbox"] == "olga@other.example"
