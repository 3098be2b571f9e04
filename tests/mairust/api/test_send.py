"""``POST /api/v1/send``: the app's own spool runs (in-process its lifespan is entered)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mairust.api.app import MAX_REQUEST_BODY, send_body_limit
from mairust.config import Settings
from mairust.model.directory import Mailbox, Tenant
from mairust.model.policy import RouteAction
from mairust.model.principal import Permission, Role
from mairust.model.queue import QueueState
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import SECOND_SETTINGS, MailSeeder, assert_problem, issue_token

SEND = "/api/v1/send"
SENDING = (Permission.READ, Permission.SEND)


class World:
    """Two tenants with a user each, and tokens to act as any of them."""

    def __init__(self, app: FastAPI, seeder: MailSeeder) -> None:
        self.app = app
        self.a: Tenant = seeder.tenant("a.example")
        self.b: Tenant = seeder.tenant("b.example")
        self.alice: Mailbox = seeder.mailbox("alice@a.example")
        self.amos: Mailbox = seeder.mailbox("amos@a.example")
        self.bob: Mailbox = seeder.mailbox("bob@b.example")

    def user(self, mailbox: Mailbox, permissions: tuple[Permission, ...] = SENDING) -> str:
        return issue_token(self.app, Role.USER, mailbox.tenant_id, mailbox.id, permissions)

    def tenant_admin(self, tenant: Tenant) -> str:
        return issue_token(self.app, Role.TENANT_ADMIN, tenant.id, permissions=SENDING)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app: FastAPI, seeder: MailSeeder) -> World:
    return World(app, seeder)


@pytest.fixture
def running(serving: None, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The admin client of an app whose spool is running."""
    return client


def blob_count(stores: Stores) -> int:
    later = datetime.now(UTC) + timedelta(days=1)
    return len(list(stores.blobs.blobs_written_before(later)))  # type: ignore[attr-defined]


def assert_nothing_stored(stores: Stores) -> None:
    assert stores.metadata.list_queue() == []
    assert blob_count(stores) == 0


def full_request() -> dict[str, Any]:
    """A send request with every field that holds a string."""
    return {
        "from": {"address": "alice@a.example", "name": "Alice"},
        "to": ["amos@a.example"],
        "cc": [{"address": "alice@a.example", "name": "Me"}],
        "bcc": ["bob@b.example"],
        "reply_to": ["alice@a.example"],
        "subject": "Numbers",
        "text": "Line one\nline two\n",
        "html": "<p>Line one</p>\n",
        "attachments": [
            {"filename": "n.csv", "content_type": "text/csv", "content": "YSxiCjEsMgo="}
        ],
        "headers": {"X-Campaign": "q3"},
    }


async def test_the_admin_sends_and_the_message_is_queued_before_the_answer(
    running: httpx.AsyncClient, world: World, settings: Settings
):
    response = await running.post(SEND, json=full_request())

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["recipients"] == ["amos@a.example", "alice@a.example", "bob@b.example"]
    assert accepted["message_id"] == f"<{accepted['queue_id']}@a.example>"
    # Durable when answered: a separate connection to the stores sees rows and body.
    fresh = open_stores(settings.storage)
    try:
        rows = fresh.metadata.list_queue()
        assert {r.message.id for r in rows} == {accepted["queue_id"]}
        assert sorted(r.recipient for r in rows) == sorted(accepted["recipients"])
        assert {r.state for r in rows} == {QueueState.QUEUED}
        raw = fresh.blobs.get(rows[0].message.blob_key)
    finally:
        fresh.close()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert "MaiRust API, authenticated as admin-token role admin" in str(parsed["Received"])
    assert parsed["Message-ID"] == accepted["message_id"]
    assert parsed["X-Campaign"] == "q3"
    assert parsed["Bcc"] is None
    assert parsed.get_content_type() == "multipart/mixed"
    attachment = next(parsed.iter_attachments())
    assert attachment.get_payload(decode=True) == b"a,b\n1,2\n"


async def test_a_user_sends_as_themselves(running, world: World, stores: Stores):
    response = await running.post(
        SEND,
        json={"from": "alice@a.example", "to": ["amos@a.example"], "text": "hi"},
        headers=bearer(world.user(world.alice)),
    )
    assert response.status_code == 202, response.text
    assert [r.recipient for r in stores.metadata.list_queue()] == ["amos@a.example"]


async def test_a_user_sending_as_another_address_is_refused_and_nothing_stored(
    running, world: World, stores: Stores
):
    response = await running.post(
        SEND,
        json={"from": "amos@a.example", "to": ["alice@a.example"], "text": "hi"},
        headers=bearer(world.user(world.alice)),
    )
    problem = assert_problem(response, 403)
    assert "own address" in problem["detail"]
    assert_nothing_stored(stores)


async def test_a_token_without_send_is_refused(running, world: World, stores: Stores):
    token = world.user(world.alice, (Permission.READ, Permission.WRITE))
    response = await running.post(
        SEND,
        json={"from": "alice@a.example", "to": ["amos@a.example"], "text": "hi"},
        headers=bearer(token),
    )
    assert_problem(response, 403)
    assert_nothing_stored(stores)


async def test_another_tenants_domain_as_from_is_a_404_and_its_twin_a_202(
    running, world: World, stores: Stores
):
    request = {"from": "news@a.example", "to": ["alice@a.example"], "text": "hi"}
    foreign = await running.post(SEND, json=request, headers=bearer(world.tenant_admin(world.b)))
    problem = assert_problem(foreign, 404)
    assert problem["detail"] == "no domain 'a.example' you may send from"
    # Exactly what a domain nobody has answers: the two cannot be told apart.
    nowhere = await running.post(
        SEND,
        json={**request, "from": "news@nowhere.example"},
        headers=bearer(world.tenant_admin(world.b)),
    )
    assert assert_problem(nowhere, 404)["detail"] == "no domain 'nowhere.example' you may send from"
    assert_nothing_stored(stores)

    own = await running.post(SEND, json=request, headers=bearer(world.tenant_admin(world.a)))
    assert own.status_code == 202, own.text
    assert [r.recipient for r in stores.metadata.list_queue()] == ["alice@a.example"]


async def test_an_unknown_local_recipient_is_a_422_naming_it_and_nothing_is_stored(
    running, world: World, stores: Stores
):
    response = await running.post(
        SEND,
        json={
            "from": "alice@a.example",
            "to": ["amos@a.example", "joe@remote.example"],
            "bcc": ["nobody@a.example"],
            "text": "hi",
        },
    )
    problem = assert_problem(response, 422)
    assert "nobody@a.example" in problem["detail"]
    assert "joe@remote.example" not in problem["detail"]  # remote ones are not refused
    assert_nothing_stored(stores)
    assert stores.metadata.list_outbound(tenant_id=world.a.id) == []


async def test_a_remote_recipient_is_queued_for_outbound_delivery(
    running, world: World, stores: Stores
):
    response = await running.post(
        SEND,
        json={"from": "alice@a.example", "to": ["joe@remote.example"], "text": "hi"},
    )
    assert response.status_code == 202, response.text
    queue_id = response.json()["queue_id"]
    [remote] = stores.metadata.list_outbound(message_id=queue_id)
    assert (remote.recipient, remote.destination) == ("joe@remote.example", "remote.example")
    assert remote.tenant_id == world.a.id
    assert stores.metadata.list_queue() == []


async def test_a_forwarded_recipient_is_queued_for_its_target_from_an_srs_address(
    running, world: World, stores: Stores
):
    stores.metadata.add_routing_rule(
        "a.example", world.a.id, "fwd-*", RouteAction.FORWARD, "joe@remote.example"
    )
    response = await running.post(
        SEND, json={"from": "alice@b.example", "to": ["fwd-1@a.example"], "text": "hi"}
    )
    assert response.status_code == 202, response.text
    [row] = stores.metadata.list_outbound(message_id=response.json()["queue_id"])
    assert (row.recipient, row.orcpt, row.tenant_id) == (
        "joe@remote.example",
        "rfc822;fwd-1@a.example",
        world.a.id,
    )
    assert row.mail_from.startswith("SRS0=") and row.mail_from.endswith("@a.example")


Setter = Callable[[dict[str, Any], str], None]


def _set(path: tuple[str | int, ...]) -> Setter:
    def put(request: dict[str, Any], bad: str) -> None:
        target: Any = request
        for key in path[:-1]:
            target = target[key]
        last = path[-1]
        target[last] = f"{target[last][:1]}{bad}{target[last][1:]}"

    return put


def _bad_header_name(request: dict[str, Any], bad: str) -> None:
    request["headers"] = {f"X-Ca{bad}mpaign": "q3"}


# Every string field of the request (text and html may hold line breaks, not NUL).
STRING_FIELDS: dict[str, Setter] = {
    "from.address": _set(("from", "address")),
    "from.name": _set(("from", "name")),
    "to": _set(("to", 0)),
    "cc.address": _set(("cc", 0, "address")),
    "cc.name": _set(("cc", 0, "name")),
    "bcc": _set(("bcc", 0)),
    "reply_to": _set(("reply_to", 0)),
    "subject": _set(("subject",)),
    "attachment.filename": _set(("attachments", 0, "filename")),
    "attachment.content_type": _set(("attachments", 0, "content_type")),
    "attachment.content": _set(("attachments", 0, "content")),
    "header name": _bad_header_name,
    "header value": _set(("headers", "X-Campaign")),
}
CASES = [(field, char) for field in STRING_FIELDS for char in ("\r", "\n", "\r\n", "\x00")] + [
    ("text", "\x00"),
    ("html", "\x00"),
]


@pytest.mark.parametrize(("field", "char"), CASES)
async def test_cr_lf_or_nul_in_a_string_field_is_a_422_and_nothing_is_stored(
    running, world: World, stores: Stores, field: str, char: str
):
    request = copy.deepcopy(full_request())
    setter = STRING_FIELDS.get(field) or _set((field,))
    setter(request, char)
    response = await running.post(SEND, json=request)
    assert_problem(response, 422)
    assert_nothing_stored(stores)


async def test_the_full_request_itself_is_accepted(running, world: World):
    # The twin of the CR/LF/NUL cases: without the bad character the same request is sent.
    response = await running.post(SEND, json=full_request())
    assert response.status_code == 202, response.text


async def test_a_message_over_one_mib_is_accepted_while_other_routes_keep_the_cap(
    running, world: World, stores: Stores
):
    content = base64.b64encode(b"x" * (2 * MAX_REQUEST_BODY)).decode()
    response = await running.post(
        SEND,
        json={
            "from": "alice@a.example",
            "to": ["amos@a.example"],
            "text": "see attached",
            "attachments": [{"filename": "big.bin", "content": content}],
        },
    )
    assert response.status_code == 202, response.text
    too_big = await running.post("/api/v1/domains", json={"name": "a" * (2 * MAX_REQUEST_BODY)})
    assert_problem(too_big, 413)


@SECOND_SETTINGS  # api.max_send_size = 1000
async def test_the_send_cap_follows_api_max_send_size(
    running: httpx.AsyncClient, seeder: MailSeeder, stores: Stores
):
    seeder.tenant("a.example")
    seeder.mailbox("amos@a.example")
    limit = send_body_limit(1000)
    assert limit == 1000 * 4 // 3 + 1024 * 1024
    base = {"from": "amos@a.example", "to": ["amos@a.example"]}
    over_cap = await running.post(SEND, json={**base, "text": "x" * 1001})
    problem = assert_problem(over_cap, 422)
    assert "the limit is 1000" in problem["detail"]
    over_body = await running.post(SEND, json={**base, "text": "x" * limit})
    assert_problem(over_body, 413)
    assert_nothing_stored(stores)
    fits = await running.post(SEND, json={**base, "text": "x" * 1000})
    assert fits.status_code == 202, fits.text


@pytest.mark.in_process_only("the live server's spool always runs")
async def test_without_a_running_spool_a_send_is_a_503_with_retry_after(
    client, world: World, stores: Stores
):
    # `client` does not enter the app's lifespan: its spool never started.
    response = await client.post(
        SEND, json={"from": "alice@a.example", "to": ["amos@a.example"], "text": "hi"}
    )
    assert_problem(response, 503)
    assert response.headers["Retry-After"].isdigit()
    assert_nothing_stored(stores)


async def test_a_sent_message_is_dkim_signed_for_its_from_domain(
    running, world: World, stores: Stores
):
    made = await running.post("/api/v1/domains/a.example/dkim-keys", json={"algorithm": "ed25519"})
    assert made.status_code == 201, made.text
    selector = made.json()["selector"]
    sent = await running.post(
        SEND, json={"from": "alice@a.example", "to": ["joe@remote.example"], "text": "hi"}
    )
    assert sent.status_code == 202, sent.text
    [row] = stores.metadata.list_outbound(message_id=sent.json()["queue_id"])
    stored = stores.blobs.get(row.message.blob_key)
    assert stored.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;")
    assert b"d=a.example;" in stored and f"s={selector};".encode() in stored
