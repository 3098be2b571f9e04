"""Messages: listing, reading, raw bytes, tags, moves (and search following them), and
tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mairust.errors import StorageUnavailable
from mairust.model.hook_jobs import JobEffect, JobTarget
from mairust.model.ids import new_id
from mairust.model.parsing import parse_message
from mairust.model.scope import PLATFORM
from mairust.search.indexing import drain_search_backlog
from mairust.services.application import Application
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import TOKEN_KEYS, act_as_tenant
from tests.support.hook_jobs import install_job_plugin
from tests.support.mailbox_parties import mailbox_parties

MULTIPART = (
    b"From: Bob <bob@remote.example>\r\n"
    b"To: jane@example.com, Joe <joe@example.com>\r\n"
    b"Cc: carl@remote.example\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_report?=\r\n"
    b"Date: Tue, 04 Mar 2025 09:30:00 +0100\r\n"
    b"Message-ID: <report-1@remote.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b'Content-Type: multipart/alternative; boundary="b2"\r\n'
    b"\r\n"
    b"--b2\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Caf\xc3\xa9 numbers attached.\r\n"
    b"--b2\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Caf\xc3\xa9 numbers attached.</p>\r\n"
    b"--b2--\r\n"
    b"--b1\r\n"
    b"Content-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="report.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--b1--\r\n"
)


@pytest.fixture
def jane(seeder):
    seeder.tenant("example.com")
    return seeder.mailbox("jane@example.com")


@pytest.fixture
def other_tenant(seeder):
    """A second tenant with one mailbox and one message: ``(tenant, mailbox, entry)``."""
    tenant = seeder.tenant("other.example")
    mailbox = seeder.mailbox("olga@other.example")
    entry = seeder.deliver(mailbox, seeder.message(subject="Olga's secret", to=mailbox.address))
    return tenant, mailbox, entry


async def test_list_is_newest_first_with_the_summary_fields(client, seeder, jane):
    entries = seeder.deliver_many(jane, 3)
    response = await client.get("/api/v1/messages", params={"mailbox": "Jane@Example.com"})
    assert response.status_code == 200
    page = response.json()
    assert [item["id"] for item in page["items"]] == [e.id for e in reversed(entries)]
    assert page["next"] is None
    item = page["items"][0]
    assert set(item) == {
        "id", "mailbox", "message_id", "from", "to", "subject", "date",
        "received_at", "size", "folder", "tags", "seen", "flagged",
    }  # fmt: skip
    newest = entries[-1]
    assert item["mailbox"] == "jane@example.com"
    assert item["message_id"] == newest.message_id
    assert item["from"] == "alice@remote.example"
    assert item["to"] == ["jane@example.com"]
    assert item["subject"] == "Note 2"
    assert datetime.fromisoformat(item["date"]) == datetime.fromisoformat(
        "2025-03-03T10:00:00+00:00"
    )
    assert datetime.fromisoformat(item["received_at"]) == newest.received_at
    assert item["size"] == newest.size
    assert item["folder"] == "INBOX"
    assert item["tags"] == []
    assert (item["seen"], item["flagged"]) == (False, False)


async def test_pages_follow_the_next_cursor_to_the_end(client, seeder, jane):
    entries = seeder.deliver_many(jane, 5)
    seen: list[str] = []
    params: dict[str, str | int] = {"mailbox": jane.address, "limit": 2}
    pages = 0
    while True:
        page = (await client.get("/api/v1/messages", params=params)).json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        if page["next"] is None:
            break
        params["before"] = page["next"]
    assert pages == 3
    assert seen == [e.id for e in reversed(entries)]


async def test_a_page_that_ends_exactly_at_the_limit_has_no_next(client, seeder, jane):
    seeder.deliver_many(jane, 2)
    page = (await client.get("/api/v1/messages", params={"limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["next"] is None


async def test_list_filters_by_folder_and_lists_all_mailboxes_without_filter(client, seeder, jane):
    joe = seeder.mailbox("joe@example.com")
    archived = seeder.deliver(jane, seeder.message(), folder="Archive")
    inbox = seeder.deliver(jane, seeder.message())
    joes = seeder.deliver(joe, seeder.message(to=joe.address))
    folder = await client.get(
        "/api/v1/messages", params={"mailbox": jane.address, "folder": "Archive"}
    )
    assert [i["id"] for i in folder.json()["items"]] == [archived.id]
    everything = (await client.get("/api/v1/messages")).json()["items"]
    assert {i["id"] for i in everything} == {archived.id, inbox.id, joes.id}


async def test_unknown_mailbox_is_a_404(client, jane, expect_problem):
    response = await client.get("/api/v1/messages", params={"mailbox": "nobody@example.com"})
    problem = expect_problem(response, 404)
    assert problem["type"] == "urn:mairust:problem:not-found"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
        {"mailbox": "not an address"},
        {"folder": "bad\x01folder"},
        {"before": "nonexistent-cursor"},
    ],
)
async def test_bad_list_parameters_are_422(client, jane, expect_problem, params):
    expect_problem(await client.get("/api/v1/messages", params=params), 422)


async def test_limit_errors_name_the_field(client, expect_problem):
    problem = expect_problem(await client.get("/api/v1/messages", params={"limit": 0}), 422)
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [("query", "limit")]


async def test_detail_has_headers_bodies_and_attachments(client, seeder, jane):
    entry = seeder.deliver(jane, MULTIPART)
    response = await client.get(f"/api/v1/messages/{entry.id}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["id"] == entry.id
    assert detail["subject"] == "Café report"
    assert detail["from"] == "bob@remote.example"
    assert detail["to"] == ["jane@example.com", "joe@example.com", "carl@remote.example"]
    headers = {h["name"]: h["value"] for h in detail["headers"]}
    assert headers["Subject"] == "Café report"
    assert headers["Message-ID"] == "<report-1@remote.example>"
    assert [h["name"] for h in detail["headers"]][:3] == ["From", "To", "Cc"]
    assert detail["text"].strip() == "Café numbers attached."
    assert detail["html"].strip() == "<p>Café numbers attached.</p>"
    assert detail["attachments"] == [
        {"filename": "report.pdf", "content_type": "application/pdf", "size": 9}
    ]


async def test_detail_shows_the_notes_of_finished_enforce_jobs(
    client, seeder, stores, jane, tmp_path
):
    """A post_receive job's notes, kept with its result, are shown by plugin; a shadow
    binding's are recorded only, and a message without jobs has none."""
    entry = seeder.deliver(jane, MULTIPART)
    plain = seeder.deliver(jane, seeder.message())
    nowhere = "http://127.0.0.1:9/hook"  # never called: the test plays the job loop's part
    install_job_plugin(stores, tmp_path, "summary-notes", nowhere)
    install_job_plugin(stores, tmp_path, "trial-notes", nowhere, mode="shadow")
    tenant_id = stores.metadata.find_mailbox(jane.address).tenant_id
    target = JobTarget(entry.message_id, tenant_id, "example.com")
    assert stores.metadata.add_hook_jobs("post_receive", [target]) == 2
    owner = f"test/{new_id()}"
    jobs = stores.metadata.lease_hook_jobs(owner, 10, 3600)
    assert {job.message_id for job in jobs} == {entry.message_id}
    for job in jobs:
        effect = JobEffect("continue", notes=(("summary", f"said by {job.plugin}"),))
        assert stores.metadata.finish_hook_job(job.id, owner, effect)
    detail = (await client.get(f"/api/v1/messages/{entry.id}")).json()
    assert detail["notes"] == {"summary-notes": {"summary": "said by summary-notes"}}
    assert (await client.get(f"/api/v1/messages/{plain.id}")).json()["notes"] == {}


async def test_raw_is_the_exact_stored_bytes(client, seeder, jane):
    raw = MULTIPART + b"trailing \xff\xfe bytes, no final newline"
    entry = seeder.deliver(jane, raw)
    response = await client.get(f"/api/v1/messages/{entry.id}/raw")
    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert response.content == raw
    assert int(response.headers["content-length"]) == len(raw)


@pytest.mark.parametrize("suffix", ["", "/raw"])
async def test_unknown_entry_is_a_404(client, jane, expect_problem, suffix):
    response = await client.get(f"/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV{suffix}")
    expect_problem(response, 404)


async def test_tags_are_added_and_removed(client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(), tags=("old", "keep"))
    response = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": ["invoice", "ünïcode"], "remove": ["old"]}
    )
    assert response.status_code == 200
    assert sorted(response.json()["tags"]) == ["invoice", "keep", "ünïcode"]
    stored = seeder.stores.metadata.get_entry(PLATFORM, entry.id)
    assert sorted(stored.tags) == ["invoice", "keep", "ünïcode"]
    again = await client.post(f"/api/v1/messages/{entry.id}/tags", json={"remove": ["absent"]})
    assert sorted(again.json()["tags"]) == ["invoice", "keep", "ünïcode"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"add": [""]}, "add.0"),
        ({"add": ["has space"]}, "add.0"),
        ({"add": ["tab\there"]}, "add.0"),
        ({"add": ["ok", "nul\x00"]}, "add.1"),
        ({"add": ["x" * 65]}, "add.0"),
        ({"remove": ["line\nbreak"]}, "remove.0"),
        ({"add": [f"t{n}" for n in range(51)]}, "add"),
        ({"add": "notalist"}, "add"),
        ({"add": ["a"], "colour": "red"}, "colour"),
    ],
)
async def test_invalid_tags_are_422_and_change_nothing(
    client, seeder, jane, expect_problem, body, field
):
    entry = seeder.deliver(jane, seeder.message(), tags=("kept",))
    problem = expect_problem(await client.post(f"/api/v1/messages/{entry.id}/tags", json=body), 422)
    assert field in [e["field"] for e in problem["errors"]]
    assert seeder.stores.metadata.get_entry(PLATFORM, entry.id).tags == ("kept",)


async def test_a_64_character_tag_is_fine(client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message())
    response = await client.post(f"/api/v1/messages/{entry.id}/tags", json={"add": ["x" * 64]})
    assert response.json()["tags"] == ["x" * 64]


async def test_more_than_50_tags_in_total_is_refused(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, seeder.message(), tags=tuple(f"t{n}" for n in range(45)))
    response = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": [f"new{n}" for n in range(6)]}
    )
    problem = expect_problem(response, 422)
    assert "50" in problem["detail"]
    assert len(seeder.stores.metadata.get_entry(PLATFORM, entry.id).tags) == 45
    swap = await client.post(
        f"/api/v1/messages/{entry.id}/tags",
        json={"add": [f"new{n}" for n in range(6)], "remove": [f"t{n}" for n in range(6)]},
    )
    assert swap.status_code == 200
    assert len(swap.json()["tags"]) == 45


async def test_adding_and_removing_the_same_tag_is_refused(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, seeder.message())
    response = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": ["a"], "remove": ["a"]}
    )
    expect_problem(response, 422)


async def test_tags_of_an_unknown_entry_is_a_404(client, expect_problem):
    response = await client.post("/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/tags", json={})
    expect_problem(response, 404)


async def test_move_changes_the_folder(client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message())
    response = await client.post(
        f"/api/v1/messages/{entry.id}/move", json={"folder": "Archive/2025 Q1"}
    )
    assert response.status_code == 200
    assert response.json()["folder"] == "Archive/2025 Q1"
    assert seeder.stores.metadata.get_entry(PLATFORM, entry.id).folder == "Archive/2025 Q1"


@pytest.mark.parametrize(
    "folder", ["", " Archive", "Archive ", "a\x00b", "a\r\nb", "a*", "50%", "a//b", "/a", "x" * 256]
)
async def test_invalid_folder_names_are_422(client, seeder, jane, expect_problem, folder):
    entry = seeder.deliver(jane, seeder.message())
    response = await client.post(f"/api/v1/messages/{entry.id}/move", json={"folder": folder})
    problem = expect_problem(response, 422)
    assert problem["errors"][0]["field"] == "folder"
    assert seeder.stores.metadata.get_entry(PLATFORM, entry.id).folder == "INBOX"


async def test_move_without_a_folder_is_422(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, seeder.message())
    expect_problem(await client.post(f"/api/v1/messages/{entry.id}/move", json={}), 422)


async def test_another_tenants_entries_are_404_everywhere(
    app, client, seeder, jane, other_tenant, expect_problem
):
    _, olga, olgas_entry = other_tenant
    own = seeder.deliver(jane, seeder.message())
    act_as_tenant(app, client, jane.tenant_id)

    for path in (f"/api/v1/messages/{olgas_entry.id}", f"/api/v1/messages/{olgas_entry.id}/raw"):
        expect_problem(await client.get(path), 404)
    expect_problem(
        await client.post(f"/api/v1/messages/{olgas_entry.id}/tags", json={"add": ["x"]}), 404
    )
    expect_problem(
        await client.post(f"/api/v1/messages/{olgas_entry.id}/move", json={"folder": "X"}), 404
    )
    foreign = await client.get("/api/v1/messages", params={"mailbox": olga.address})
    missing = await client.get("/api/v1/messages", params={"mailbox": "ghost@other.example"})
    # A foreign mailbox must look exactly like a missing one.
    assert expect_problem(foreign, 404)["detail"] == expect_problem(missing, 404)["detail"].replace(
        "ghost", "olga"
    )
    listing = (await client.get("/api/v1/messages")).json()["items"]
    assert [item["id"] for item in listing] == [own.id]
    assert (await client.get(f"/api/v1/messages/{own.id}")).status_code == 200

    untouched = seeder.stores.metadata.get_entry(PLATFORM, olgas_entry.id)
    assert (untouched.tags, untouched.folder) == ((), "INBOX")


async def test_the_owning_tenant_reads_its_entry(app, client, other_tenant):
    tenant, _, entry = other_tenant
    act_as_tenant(app, client, tenant.id)
    response = await client.get(f"/api/v1/messages/{entry.id}")
    assert response.status_code == 200
    assert response.json()["subject"] == "Olga's secret"


# -- search follows tags and moves ----------------------------------------------------


async def search_ids(client, q: str) -> list[str]:
    response = await client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


class DownSearch:
    """A search role that is down: every write and read fails as an outage does."""

    def __init__(self, real):
        self.real = real

    def index(self, documents):
        raise StorageUnavailable("search is down")

    def delete(self, entry_ids):
        raise StorageUnavailable("search is down")

    def update_labels(self, entry_id, tags, folder):
        raise StorageUnavailable("search is down")

    def search(self, *args, **kwargs):
        raise StorageUnavailable("search is down")

    def close(self):
        self.real.close()


class NoBacklog:
    """A metadata store that takes every change except a backlog entry."""

    def __init__(self, real):
        self.real = real

    def add_to_search_backlog(self, entry_ids):
        raise StorageUnavailable("metadata is down")

    def __getattr__(self, name):
        return getattr(self.real, name)


class CountingBlobs:
    """The real blob store, counting the blobs read."""

    def __init__(self, real):
        self.real = real
        self.reads: list[str] = []

    def get(self, key):
        self.reads.append(key)
        return self.real.get(key)

    def __getattr__(self, name):
        return getattr(self.real, name)


def with_stores(app, **roles) -> Stores:
    """Swap roles of the app's stores (as an outage would) and return the real ones."""
    real = app.state.stores
    use_stores(
        app,
        Stores(
            metadata=roles.get("metadata", real.metadata),
            blobs=roles.get("blobs", real.blobs),
            search=roles.get("search", real.search),
        ),
    )
    return real


def use_stores(app, stores: Stores) -> None:
    """Serve ``app`` from ``stores`` (its services are built over them anew)."""
    app.state.stores = stores
    app.state.application = Application.over(stores, TOKEN_KEYS)


async def test_tagging_keeps_search_in_sync(client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(subject="Hangar"), tags=("todo",))
    other = seeder.deliver(jane, seeder.message(subject="Hangar"), tags=("todo",))
    assert sorted(await search_ids(client, "tag:todo")) == sorted([entry.id, other.id])
    response = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": ["done"], "remove": ["todo"]}
    )
    assert response.status_code == 200
    assert await search_ids(client, "tag:todo") == [other.id]
    assert await search_ids(client, "hangar tag:done") == [entry.id]
    assert seeder.stores.metadata.search_backlog_size() == 0


async def test_moving_keeps_search_in_sync(client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(subject="Hangar"))
    response = await client.post(
        f"/api/v1/messages/{entry.id}/move", json={"folder": "Archive/2025 Q1"}
    )
    assert response.status_code == 200
    assert await search_ids(client, 'folder:"Archive/2025 Q1"') == [entry.id]
    assert await search_ids(client, "hangar folder:INBOX") == []
    # the rest of the document is unchanged by the re-index
    assert await search_ids(client, "hangar") == [entry.id]


@pytest.mark.in_process_only("counts blob reads through the app's stores")
async def test_tags_and_moves_update_the_index_without_reading_the_blob(app, client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(subject="Hangar", body="walrus"), tags=("todo",))
    blobs = CountingBlobs(seeder.stores.blobs)
    with_stores(app, blobs=blobs)
    tagged = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": ["done"], "remove": ["todo"]}
    )
    moved = await client.post(f"/api/v1/messages/{entry.id}/move", json={"folder": "Archive"})
    assert (tagged.status_code, moved.status_code) == (200, 200)
    assert blobs.reads == []
    # the labels changed in place; the words of the body are still found
    assert await search_ids(client, "walrus tag:done folder:Archive") == [entry.id]
    assert await search_ids(client, "tag:todo") == []
    # reading the message does go through the counted store (the wrapper is in use)
    assert (await client.get(f"/api/v1/messages/{entry.id}")).status_code == 200
    assert blobs.reads == [entry.blob_key]


@pytest.mark.in_process_only("counts blob reads through the app's stores")
async def test_tagging_an_entry_not_yet_indexed_indexes_it_whole(app, client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(subject="Hangar", body="walrus"))
    seeder.stores.search.delete([entry.id])  # as if its first indexing had not happened
    blobs = CountingBlobs(seeder.stores.blobs)
    with_stores(app, blobs=blobs)
    response = await client.post(f"/api/v1/messages/{entry.id}/tags", json={"add": ["seal"]})
    assert response.status_code == 200
    assert blobs.reads == [entry.blob_key]  # the one full index needs the body
    assert await search_ids(client, "walrus hangar tag:seal folder:INBOX") == [entry.id]
    assert seeder.stores.metadata.search_backlog_size() == 0


@pytest.mark.in_process_only("swaps the app's search store for a broken one")
async def test_with_search_down_tags_and_moves_wait_in_the_backlog(app, client, seeder, jane):
    entry = seeder.deliver(jane, seeder.message(subject="Hangar"), tags=("todo",))
    real = with_stores(app, search=DownSearch(seeder.stores.search))
    tagged = await client.post(
        f"/api/v1/messages/{entry.id}/tags", json={"add": ["done"], "remove": ["todo"]}
    )
    moved = await client.post(f"/api/v1/messages/{entry.id}/move", json={"folder": "Archive"})
    # the metadata is the truth: both changes are made and answered
    assert (tagged.status_code, moved.status_code) == (200, 200)
    stored = real.metadata.get_entry(PLATFORM, entry.id)
    assert (stored.tags, stored.folder) == (("done",), "Archive")
    assert real.metadata.search_backlog(10) == [entry.id]
    # search is back: the index still has the old labels until the indexer drains
    use_stores(app, real)
    assert await search_ids(client, "tag:todo") == [entry.id]
    assert drain_search_backlog(real) == 1
    assert await search_ids(client, "tag:todo") == []
    assert await search_ids(client, "tag:done folder:Archive") == [entry.id]
    assert real.metadata.search_backlog_size() == 0


@pytest.mark.in_process_only("swaps the app's stores for broken ones")
async def test_with_search_and_backlog_down_the_answer_is_503(
    app, client, seeder, jane, expect_problem
):
    entry = seeder.deliver(jane, seeder.message())
    with_stores(
        app,
        metadata=NoBacklog(seeder.stores.metadata),
        search=DownSearch(seeder.stores.search),
    )
    response = await client.post(f"/api/v1/messages/{entry.id}/tags", json={"add": ["x"]})
    # the client cannot be told the change is searchable; repeating it is harmless
    expect_problem(response, 503)
    assert "Retry-After" in response.headers


# -- filters, flags, delete, attachments, threads (and who may reach them) ------------

HOSTILE_NAME = (
    b"From: bob@remote.example\r\nTo: jane@example.com\r\nSubject: files\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    b"--b\r\nContent-Type: text/html\r\n"
    b'Content-Disposition: attachment; filename="..\\\\evil\\"; x=\xc3\xa9t\xc3\xa9/../a.html"'
    b"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n"
)


@pytest.fixture
def parties(app, seeder):
    return mailbox_parties(app, seeder)


async def test_list_filters_from_the_query_string(client, seeder, jane):
    start = datetime.now(UTC) - timedelta(days=2)
    old = seeder.deliver(jane, seeder.message(subject="old"), received_at=start)
    new = seeder.deliver(
        jane, seeder.message(sender="dan@other.example"), tags=("work",), received_at=None
    )
    await client.post(f"/api/v1/messages/{old.id}/flags", json={"seen": True, "flagged": True})

    async def ids(**params: str) -> list[str]:
        response = await client.get("/api/v1/messages", params={"mailbox": jane.address, **params})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [new.id, old.id]
    assert await ids(tag="work") == [new.id]
    assert await ids(**{"from": "@Other.example"}) == [new.id]
    assert await ids(unread="true") == [new.id]
    assert await ids(unread="false", flagged="true") == [old.id]
    after = (start + timedelta(days=1)).isoformat()
    assert await ids(received_after=after) == [new.id]
    assert await ids(received_before=after) == [old.id]
    assert await ids(dmarc="fail") == []
    assert await ids(spf="pass", dkim="none", arc="none") == []


@pytest.mark.parametrize(
    "params",
    [
        {"dmarc": "bogus"},
        {"spf": "policy"},  # a DKIM word, not an SPF one
        {"unread": "maybe"},
        {"flagged": "2"},
        {"received_after": "yesterday"},
        {"received_after": "2026-01-01T00:00:00"},  # no time zone
        {"received_after": "2026-02-01T00:00:00Z", "received_before": "2026-01-01T00:00:00Z"},
        {"from": "no-at-sign"},
        {"from": "two words@x.example"},
        {"tag": "has space"},
    ],
)
async def test_bad_filters_are_422(client, jane, expect_problem, params):
    expect_problem(await client.get("/api/v1/messages", params=params), 422)


async def test_flags_are_set_and_shown(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, seeder.message())
    response = await client.post(f"/api/v1/messages/{entry.id}/flags", json={"flagged": True})
    assert response.status_code == 200
    assert (response.json()["seen"], response.json()["flagged"]) == (False, True)
    response = await client.post(f"/api/v1/messages/{entry.id}/flags", json={"seen": True})
    assert (response.json()["seen"], response.json()["flagged"]) == (True, True)
    listed = (await client.get("/api/v1/messages")).json()["items"][0]
    assert (listed["seen"], listed["flagged"]) == (True, True)
    for bad in ({"seen": "perhaps"}, {"starred": True}):
        path = f"/api/v1/messages/{entry.id}/flags"
        expect_problem(await client.post(path, json=bad), 422)


async def test_delete_moves_to_trash_then_purge_removes_it(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, seeder.message(subject="narwhal"))
    expect_problem(await client.delete(f"/api/v1/messages/{entry.id}?purge=true"), 409)
    moved = await client.delete(f"/api/v1/messages/{entry.id}")
    assert moved.status_code == 200 and moved.json()["folder"] == "Trash"
    purged = await client.delete(f"/api/v1/messages/{entry.id}", params={"purge": "true"})
    assert purged.status_code == 204 and purged.content == b""
    expect_problem(await client.get(f"/api/v1/messages/{entry.id}"), 404)
    found = await client.get("/api/v1/search", params={"q": "narwhal"})
    assert found.json()["items"] == []
    expect_problem(await client.delete(f"/api/v1/messages/{entry.id}?purge=true"), 404)


async def test_attachment_download_is_decoded_with_its_type(client, seeder, jane, expect_problem):
    entry = seeder.deliver(jane, MULTIPART)
    response = await client.get(f"/api/v1/messages/{entry.id}/attachments/0")
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4\n"
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    expect_problem(await client.get(f"/api/v1/messages/{entry.id}/attachments/1"), 404)
    expect_problem(await client.get(f"/api/v1/messages/{entry.id}/attachments/-1"), 422)


async def test_a_hostile_attachment_name_cannot_break_the_header(client, seeder, jane):
    entry = seeder.deliver(jane, HOSTILE_NAME)
    response = await client.get(f"/api/v1/messages/{entry.id}/attachments/0")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    ascii_part = disposition.split(";")[1]
    assert ascii_part.startswith(' filename="') and ascii_part.count('"') == 2
    name = ascii_part.split('"')[1]
    assert not set(name) & set('/\\"') and name.isascii()
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-type"].startswith("text/html")
    assert disposition.startswith("attachment;")


async def test_thread_view_and_thread_list(client, seeder, jane):
    root = seeder.message(subject="plan")
    root_id = parse_message(root).message_id
    first = seeder.deliver(jane, root, received_at=datetime.now(UTC) - timedelta(hours=1))
    reply = root.replace(b"Subject: plan", b"Subject: Re: plan\r\nIn-Reply-To: " + root_id.encode())
    reply = reply.replace(root_id.encode() + b"\r\nMIME", b"<r1@remote.example>\r\nMIME")
    second = seeder.deliver(jane, reply)
    view = (await client.get(f"/api/v1/messages/{second.id}/thread")).json()
    assert [item["id"] for item in view["items"]] == [first.id, second.id]
    page = (await client.get("/api/v1/threads", params={"mailbox": jane.address})).json()
    assert [(t["latest"]["id"], t["count"]) for t in page["items"]] == [(second.id, 2)]
    assert page["next"] is None


MESSAGE_CALLS = [
    ("get", "/api/v1/messages?mailbox={mailbox}&unread=true", None, 200),
    ("get", "/api/v1/threads?mailbox={mailbox}", None, 200),
    ("get", "/api/v1/messages/{entry}/attachments/0", None, 200),
    ("get", "/api/v1/messages/{entry}/thread", None, 200),
    ("post", "/api/v1/messages/{entry}/flags", {"flagged": True}, 200),
    ("delete", "/api/v1/messages/{entry}", None, 200),
    ("delete", "/api/v1/messages/{trashed}?purge=true", None, 204),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), MESSAGE_CALLS)
async def test_outsiders_get_404_and_the_owner_gets_the_object(
    client, seeder, parties, expect_problem, method, path, body, status
):
    entry = seeder.deliver(parties.jane, MULTIPART)
    trashed = seeder.deliver(parties.jane, seeder.message(), folder="Trash")
    url = path.format(mailbox=parties.jane.address, entry=entry.id, trashed=trashed.id)
    for who, headers in parties.outsiders:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (who, response.text)
        expect_problem(response, 404)
    # Nothing changed for the owner: the same call succeeds, on the object.
    for headers in (parties.owner, parties.tenant_admin):
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == status, response.text
        if status == 204:
            break  # purged: gone for the second caller
        if not response.headers["content-type"].startswith("application/json"):
            assert response.content == b"%PDF-1.4\n"  # the attachment itself
        elif "items" in (document := response.json()):
            assert document["items"], "the owner sees the object in the list"
        else:
            assert entry.id in response.text


@pytest.mark.parametrize("path", ["/api/v1/messages?unread=true", "/api/v1/threads"])
async def test_unscoped_lists_are_empty_for_outsiders(client, seeder, parties, path):
    seeder.deliver(parties.jane, seeder.message())
    for _, headers in parties.outsiders:
        assert (await client.get(path, headers=headers)).json()["items"] == []
    assert (await client.get(path, headers=parties.owner)).json()["items"]
