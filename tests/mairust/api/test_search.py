"""Full-text search through the API: hits, mailbox filter, empty queries, tenants, the
query language (phrases and filters) in ``q``, and paging by cursor on both search
backends (every hit once and in order; a cursor of another search, scope or tenant, or an
altered one, is a 422)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from mairust.model.mailbox import SearchDocument
from mairust.model.principal import Role
from mairust.model.scope import PLATFORM
from tests.mairust.api.conftest import act_as_tenant, issue_token


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
    assert set(page) == {"items", "next"}
    assert page["next"] is None


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


async def test_search_pages_by_cursor(client, mail):
    first = (await client.get("/api/v1/search", params={"q": "invoice", "limit": 2})).json()
    assert len(first["items"]) == 2
    assert isinstance(first["next"], str)
    second = (
        await client.get(
            "/api/v1/search", params={"q": "invoice", "limit": 2, "before": first["next"]}
        )
    ).json()
    assert len(second["items"]) == 1
    assert second["next"] is None
    all_ids = {i["id"] for i in first["items"]} | {i["id"] for i in second["items"]}
    assert len(all_ids) == 3
    # offset paging is gone: the parameter is not read (the first page again)
    again = (
        await client.get("/api/v1/search", params={"q": "invoice", "limit": 2, "offset": 2})
    ).json()
    assert again == first


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "   "}, {}])
async def test_an_empty_query_is_a_422(client, mail, expect_problem, params):
    problem = expect_problem(await client.get("/api/v1/search", params=params), 422)
    assert problem["type"] in (
        "urn:mairust:problem:validation-error",
        "urn:mairust:problem:invalid-input",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "limit": 0},
        {"q": "x", "limit": 501},
        {"q": "x", "before": ""},
        {"q": "x", "before": "x" * 513},
        {"q": "x" * 1001},
    ],
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
    assert all(item["score"] == 0.0 and item["snippet"] == "" for item in first["items"])
    rest = (
        await client.get(
            "/api/v1/search", params={"q": "to:example.com", "limit": 2, "before": first["next"]}
        )
    ).json()
    assert [item["id"] for item in rest["items"]] == [shelf["invoice"]]
    assert rest["next"] is None


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


# -- paging by cursor, on every search backend ---------------------------------------


async def _walk(client: httpx.AsyncClient, params: dict[str, str | int]) -> list[str]:
    """The ids of every page of one search, following ``next`` as ``before``."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        asked = {**params, "before": cursor} if cursor else params
        response = await client.get("/api/v1/search", params=asked)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= int(params["limit"])
        seen.extend(item["id"] for item in page["items"])
        if page["next"] is None:
            return seen
        cursor = page["next"]
    raise AssertionError("the pages never end")


@pytest.fixture
def ledger(search_backend):
    """30 equal messages to Jane at one instant (equal scores, equal times), 4 better ones
    and one to Olga of another tenant."""
    seeder = search_backend.seeder
    seeder.tenant("example.com")
    jane = seeder.mailbox("jane@example.com")
    seeder.tenant("other.example")
    olga = seeder.mailbox("olga@other.example")
    when = datetime(2025, 6, 1, tzinfo=UTC)
    equal = seeder.message(subject="Ledger", body="the ledger is attached")
    better = seeder.message(subject="Ledger", body="ledger ledger ledger ledger")
    ties = [seeder.deliver(jane, equal, received_at=when).id for _ in range(30)]
    top = [seeder.deliver(jane, better, received_at=when).id for _ in range(4)]
    seeder.deliver(olga, seeder.message(subject="Ledger", to=olga.address), received_at=when)
    return {"jane": jane, "olga": olga, "ties": ties, "top": top}


async def test_every_page_of_equal_scores_shows_each_hit_once_in_order(search_backend, ledger):
    act_as_tenant(search_backend.app, search_backend.client, ledger["jane"].tenant_id)
    whole = (
        await search_backend.client.get("/api/v1/search", params={"q": "ledger", "limit": 500})
    ).json()
    ids = [item["id"] for item in whole["items"]]
    assert ids == sorted(ledger["top"]) + sorted(ledger["ties"])  # score, then id
    scores = [item["score"] for item in whole["items"]]
    assert len(set(scores[:4])) == 1 and len(set(scores[4:])) == 1 and scores[0] > scores[4]
    for limit in (1, 3, 7, 33, 34):
        assert await _walk(search_backend.client, {"q": "ledger", "limit": limit}) == ids, limit
    assert await _walk(search_backend.client, {"q": "ledger folder:INBOX", "limit": 4}) == ids
    # filters alone: newest first, then by id (all at one instant here)
    newest = await _walk(search_backend.client, {"q": "from:remote.example", "limit": 5})
    assert newest == sorted(ids)


async def test_a_cursor_of_another_search_is_a_422(search_backend, ledger, expect_problem):
    client = search_backend.client
    act_as_tenant(search_backend.app, client, ledger["jane"].tenant_id)
    first = (await client.get("/api/v1/search", params={"q": "ledger", "limit": 2})).json()
    cursor = first["next"]
    others = [
        {"q": "attached"},
        {"q": "ledger attached"},
        {"q": "ledger tag:x"},
        {"q": "ledger", "mailbox": "jane@example.com"},
    ]
    for params in others:
        response = await client.get("/api/v1/search", params={**params, "before": cursor})
        problem = expect_problem(response, 422)
        assert problem["type"] == "urn:mairust:problem:invalid-input"
        assert "not one of this search" in problem["detail"]
    head, payload, mac = cursor.split(".")
    tampered = [
        f"{head}.{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"{head}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{mac}",
        f"{head}.{payload}",
        "s1.W10.AAAA",
        "garbage",
    ]
    for bad in tampered:
        response = await client.get("/api/v1/search", params={"q": "ledger", "before": bad})
        expect_problem(response, 422)


async def test_another_tenants_cursor_is_a_422_and_shows_nothing(
    search_backend, ledger, expect_problem
):
    client = search_backend.client
    act_as_tenant(search_backend.app, client, ledger["jane"].tenant_id)
    cursor = (await client.get("/api/v1/search", params={"q": "ledger", "limit": 1})).json()["next"]
    assert cursor
    act_as_tenant(search_backend.app, client, ledger["olga"].tenant_id)
    own = (await client.get("/api/v1/search", params={"q": "ledger"})).json()
    assert [item["mailbox"] for item in own["items"]] == ["olga@other.example"]
    response = await client.get("/api/v1/search", params={"q": "ledger", "before": cursor})
    problem = expect_problem(response, 422)
    assert ledger["jane"].address not in response.text
    assert "ledger" not in problem["detail"].lower()
    # a user of Jane's own tenant: another scope, so not Jane's admin's cursor either
    token = issue_token(search_backend.app, Role.USER, ledger["jane"].tenant_id, ledger["jane"].id)
    client.headers["Authorization"] = f"Bearer {token}"
    response = await client.get("/api/v1/search", params={"q": "ledger", "before": cursor})
    expect_problem(response, 422)
