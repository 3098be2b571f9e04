"""Scenario: the operator's pages of the admin UI — Queue, Quarantine, Message trace — in
headless Chromium against the shared embedded `mairust up`.

Real mail makes each page's content. A relay rule sends two addresses of example.test to a
scripted SMTP server on loopback that answers 451 to both: their outbound rows are
deferred. The operator sees them in the Queue with the remote server's reply, opens a
row's attempts, retries one now (the delivery loop tries it a second time, as the API
then says), bounces it and deletes the other (the API holds a bounced row and no row).
A stdin plugin bound to one fresh domain at pre_receive quarantines mail to it: the
held message is listed and opened in Quarantine and released there, and the API finds it
in the mailbox's INBOX. The trace of the relayed message, by its Message-ID, shows the
refused recipient, the reception, the checks, each deferral with its reply and the
operator's bounce; a message stored in a mailbox shows its storing; a refused recipient
searched by address shows its refusal. Every page passes axe-core and the keyboard walk;
screenshots go to build/web-screenshots (docs/web/queue.png and trace.png are copies of a
run's: a test run leaves the tree as it was).
"""

from __future__ import annotations

import re
import smtplib
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import (
    assert_accessible,
    assert_keyboard_reaches_everything,
    screenshot,
    watched_page,
)
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer, free_port, wait_for
from tests.support.scripted_smtp import Script, ScriptedSmtpServer
from tests.support.stdin_plugins import python_child

pytestmark = pytest.mark.parametrize("shared_server", ["embedded"], indirect=True)

DOMAIN = "example.test"
TEMPFAIL = "451 4.3.0 Mailbox busy, try again later"
PASSWORD = "a long test password"
HOLD_PLUGIN = "ops-hold"
# A stdin plugin (the Python child of tests/support) that does what its configuration
# says; installed off (its schema wants a verdict), so nothing runs it until it is bound
# to the scenario's own domain and configured.
HOLD_MANIFEST = """
scopes = ["headers"]
permissions = ["quarantine", "tag"]

[plugin]
name = "{name}"
version = "1.0.0"
description = "Holds the mail of the domain it is bound to (test)."
author = "tests"
license = "MIT"

[transport]
kind = "stdin"
entrypoint = "{python} child.py"

[[hooks]]
point = "pre_receive"

[timeouts]
call_ms = 3000
on_timeout = "accept"
on_error = "accept"

[config_schema]
type = "object"
required = ["verdict"]
"""


@pytest.fixture
def page(browser: Browser, shared_server: MairustServer) -> Iterator[Page]:
    with watched_page(browser, f"http://127.0.0.1:{shared_server.api_port}") as page:
        yield page


def _sign_in(page: Page, path: str) -> None:
    page.goto(path)
    page.get_by_label("Token", exact=True).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def _sign_in_with_password(page: Page, address: str) -> None:
    page.get_by_label("Address and password", exact=True).check()
    page.get_by_label("Address", exact=True).fill(address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def _send(server: MairustServer, rcpts: list[str], subject: str) -> tuple[str, str]:
    """Sends over SMTP (a recipient refused at RCPT is left out); (queue id, Message-ID)."""
    message_id = f"<ops-{uuid.uuid4().hex[:10]}@remote.example>"
    message = EmailMessage()
    message["From"] = "sender@remote.example"
    message["To"] = ", ".join(rcpts)
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(f"the text of {subject}")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("sender@remote.example")
        taken = [rcpt for rcpt in rcpts if smtp.rcpt(rcpt)[0] == 250]
        assert taken, "every recipient was refused"
        code, reply = smtp.data(message.as_bytes())
    assert code == 250, reply
    found = re.search(rb"queued as (\S+)", reply)
    assert found, reply
    return found.group(1).decode(), message_id


def _rows(api: httpx.Client, queue_id: str) -> dict[str, dict[str, Any]]:
    answer = api.get("/api/v1/outbound", params={"message_id": queue_id})
    assert answer.status_code == 200, answer.text
    return {row["recipient"]: row for row in answer.json()["items"]}


def _attempts(api: httpx.Client, queue_id: str, rcpt: str) -> list[dict[str, Any]]:
    answer = api.get(f"/api/v1/outbound/messages/{queue_id}/attempts")
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json()["items"] if a["recipient"] == rcpt]


def _row(page: Page, recipient: str) -> Locator:
    """The queue's row of ``recipient`` (its row header names it)."""
    header = page.get_by_role("rowheader", name=re.compile(re.escape(recipient)))
    return page.get_by_role("row").filter(has=header)


def _confirm(page: Page, action: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=action, exact=True).click()
    expect(dialog).to_have_count(0)


def _titles(timeline: Locator) -> list[str]:
    """The steps' titles, in the order the timeline lists them."""
    return [t.strip() for t in timeline.get_by_role("heading", level=3).all_inner_texts()]


def _trace(page: Page, by: str, value: str) -> None:
    page.get_by_role("link", name="Trace").click()
    expect(page.get_by_role("heading", name="Message trace")).to_be_visible()
    page.get_by_label("Search by").select_option(label=by)
    page.get_by_label(by, exact=True).fill(value)
    page.get_by_role("button", name="Trace").click()
    expect(page).to_have_url(re.compile(r"/trace\?by=\w+&q="))
    answered = page.get_by_role("status").filter(has_text=re.compile("found|Nothing is recorded"))
    expect(answered).to_be_visible()


def test_deferred_mail_is_retried_bounced_and_deleted_then_traced(
    page: Page, shared_server: MairustServer
) -> None:
    marker = uuid.uuid4().hex[:6]
    first, second = (f"relay-{marker}-{n}@{DOMAIN}" for n in ("a", "b"))
    refused = f"nobody-{marker}@{DOMAIN}"
    port = free_port()
    script = Script(rcpt={first: [TEMPFAIL] * 20, second: [TEMPFAIL] * 20})
    with ScriptedSmtpServer(script, address="127.0.0.1", port=port), shared_server.api() as api:
        rule = {"pattern": f"relay-{marker}-*", "action": "relay", "target": f"[127.0.0.1]:{port}"}
        made = api.post(f"/api/v1/domains/{DOMAIN}/routes", json=rule)
        assert made.status_code == 201, made.text
        try:
            queue_id, message_id = _send(shared_server, [refused, first, second], "stuck")
            wait_for(
                lambda: {r["state"] for r in _rows(api, queue_id).values()} == {"deferred"},
                timeout=60,
                what="both relayed recipients deferred by the 451",
            )
            _operate_the_queue(page, api, queue_id, first, second)
        finally:
            api.delete(f"/api/v1/domains/{DOMAIN}/routes/{made.json()['id']}")

    # The message's whole way, found by its Message-ID.
    _trace(page, "Message-ID", message_id)
    timeline = page.get_by_role("region", name=re.compile(f"Message {queue_id}"))
    steps = timeline.get_by_role("listitem")
    expect(steps.first).to_contain_text("Refused at RCPT")
    expect(steps.first).to_contain_text(refused)
    expect(timeline).to_contain_text("Received")
    expect(timeline).to_contain_text("Checks")
    expect(
        timeline.get_by_role("listitem").filter(has_text="Deferred (attempt 2)")
    ).to_contain_text(TEMPFAIL)
    expect(
        timeline.get_by_role("listitem").filter(has_text="Bounced by the operator")
    ).to_contain_text(first)
    # The delete came last, and ends the other recipient's way.
    expect(steps.last).to_contain_text("Deleted by the operator")
    expect(steps.last).to_contain_text(second)
    titles = _titles(timeline)
    assert titles[:3] == ["Refused at RCPT", "Received", "Checks"], titles
    screenshot(page, "trace")
    assert_accessible(page, "trace")
    assert_keyboard_reaches_everything(page, "trace")

    # A tenant admin of example.test sees its tenant's rows, without the platform's counts.
    tenant_admin = f"admin-{marker}@{DOMAIN}"
    with shared_server.api() as api:
        user = {"address": tenant_admin, "password": PASSWORD, "role": "tenant_admin"}
        assert api.post("/api/v1/users", json=user).status_code == 201
    page.get_by_role("button", name="Sign out").click()
    _sign_in_with_password(page, tenant_admin)
    page.get_by_role("link", name="Queue").click()
    page.get_by_label("State").select_option(label="Any state")
    page.get_by_label("Destination").fill(f"relay:[127.0.0.1]:{port}")
    page.get_by_role("button", name="Show").click()
    expect(_row(page, first)).to_contain_text("Bounced")
    expect(page.get_by_role("rowheader")).to_have_count(1)
    expect(page.get_by_role("heading", name=re.compile("Inbound queue"))).to_have_count(0)
    assert_accessible(page, "queue, tenant admin")


def _operate_the_queue(
    page: Page, api: httpx.Client, queue_id: str, first: str, second: str
) -> None:
    _sign_in(page, "/queue")
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Inbound queue"))).to_be_visible()
    row = _row(page, first)
    expect(row).to_contain_text("Deferred")
    expect(row).to_contain_text(TEMPFAIL)
    expect(row).to_contain_text("relay:[127.0.0.1]")
    # The filter by destination keeps this scenario's rows only.
    page.get_by_label("Destination").fill(_rows(api, queue_id)[first]["destination"])
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("rowheader")).to_have_count(2)
    screenshot(page, "queue")
    assert_accessible(page, "queue")
    assert_keyboard_reaches_everything(page, "queue")

    row.get_by_role("button", name=f"Attempts for {first}").click()
    attempts = page.get_by_role("table", name=re.compile(f"Delivery attempts for {first}"))
    expect(attempts).to_contain_text(TEMPFAIL)
    expect(attempts).to_contain_text("deferred")

    row.get_by_role("button", name=f"Retry now: {first}").click()
    _confirm(page, "Retry now")
    expect(page.get_by_role("status").filter(has_text="Retrying")).to_have_text(
        f"Retrying 1 recipient now: {first}."
    )
    # Due now: the delivery loop tries it again at once (not in 5 minutes), and the
    # remote server says 451 again.
    wait_for(
        lambda: (
            len(_attempts(api, queue_id, first)) >= 2
            and _rows(api, queue_id)[first]["state"] == "deferred"
        ),
        timeout=30,
        what="a second attempt after retry now",
    )
    page.get_by_role("button", name="Refresh").click()
    expect(row.get_by_role("cell", name="2", exact=True)).to_be_visible()

    row.get_by_role("button", name=f"Bounce: {first}").click()
    expect(page.get_by_role("dialog")).to_contain_text("no delivery status notification")
    _confirm(page, "Bounce")
    expect(page.get_by_role("status").filter(has_text="Bounced")).to_have_text(
        f"Bounced 1 recipient: {first}."
    )
    assert _rows(api, queue_id)[first]["state"] == "bounced"

    other = _row(page, second)
    other.get_by_role("button", name=f"Delete: {second}").click()
    # Cancel changes nothing; the second time it is meant.
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert second in _rows(api, queue_id)
    other.get_by_role("button", name=f"Delete: {second}").click()
    _confirm(page, "Delete")
    expect(page.get_by_role("status").filter(has_text="Deleted")).to_have_text(
        f"Deleted 1 recipient from the queue: {second}."
    )
    assert second not in _rows(api, queue_id)
    # Nothing of this scenario waits any more: the waiting view of its destination is empty.
    expect(page.get_by_role("rowheader")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="No outbound mail")).to_be_visible()


def _hold_plugin(api: httpx.Client, base: Path, domain: str) -> None:
    """The stdin plugin installed, bound to ``domain`` only, and told to quarantine."""
    python_child(base)
    manifest = HOLD_MANIFEST.format(name=HOLD_PLUGIN, python=sys.executable)
    (base / "plugin.toml").write_text(manifest)
    installed = api.post("/api/v1/admin/plugins", json={"path": str(base)})
    assert installed.status_code == 201, installed.text
    assert installed.json()["enabled"] is False
    for binding in api.get("/api/v1/admin/hooks").json()["items"]:
        if binding["plugin"] == HOLD_PLUGIN:
            assert api.delete(f"/api/v1/admin/hooks/{binding['id']}").status_code == 204
    bound = api.post(
        "/api/v1/admin/hooks",
        json={"plugin": HOLD_PLUGIN, "point": "pre_receive", "domain": domain},
    )
    assert bound.status_code == 201, bound.text
    config = {"verdict": "quarantine", "tags": ["ops-held"]}
    changed = api.patch(
        f"/api/v1/admin/plugins/{HOLD_PLUGIN}", json={"config": config, "enabled": True}
    )
    assert changed.status_code == 200, changed.text


def test_held_mail_is_opened_and_released(
    page: Page, shared_server: MairustServer, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex[:6]
    domain = f"ops-{marker}.test"
    bob = f"bob@{domain}"
    with shared_server.api() as api:
        assert api.post("/api/v1/domains", json={"name": domain}).status_code == 201
        user = {"address": bob, "password": PASSWORD}
        assert api.post("/api/v1/users", json=user).status_code == 201
        _hold_plugin(api, tmp_path / "plugin", domain)
        try:
            # The front-ends read bindings every few seconds: send until one is held.
            def held() -> dict[str, Any] | None:
                queue_id, _ = _send(shared_server, [bob], f"hold me {marker}")

                def stored() -> dict[str, Any] | None:
                    params = {"mailbox": bob}
                    items = api.get("/api/v1/messages", params=params).json()["items"]
                    items += api.get("/api/v1/quarantine", params=params).json()["items"]
                    return next((m for m in items if m["message_id"] == queue_id), None)

                entry = wait_for(stored, timeout=30, what="the message stored")
                return entry if entry["folder"] == "Quarantine" else None

            message = wait_for(held, timeout=60, interval=1.0, what="a message held")
        finally:
            api.delete(f"/api/v1/admin/plugins/{HOLD_PLUGIN}")

        _sign_in(page, "/quarantine")
        expect(page.get_by_role("heading", name="Quarantine", level=1)).to_be_visible()
        page.get_by_label("Mailbox").fill(bob)
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"/quarantine\?mailbox="))
        link = page.get_by_role("link", name=f"hold me {marker}").first
        expect(link).to_be_visible()
        screenshot(page, "quarantine")
        assert_accessible(page, "quarantine")
        assert_keyboard_reaches_everything(page, "quarantine")

        link.click()
        expect(page).to_have_url(re.compile(f"/quarantine/{message['id']}$"))
        expect(page.get_by_role("heading", name=f"hold me {marker}", level=1)).to_be_visible()
        expect(page.get_by_text("ops-held")).to_be_visible()
        screenshot(page, "held-message")
        assert_accessible(page, "held message")
        assert_keyboard_reaches_everything(page, "held message")
        page.get_by_role("button", name="Release").click()
        expect(page.get_by_role("dialog")).to_contain_text(f"into {bob}")
        _confirm(page, "Release")
        expect(page.get_by_role("status")).to_contain_text(f"to {bob}, folder INBOX")

        inbox = api.get("/api/v1/messages", params={"mailbox": bob, "folder": "INBOX"}).json()
        assert message["message_id"] in {m["message_id"] for m in inbox["items"]}
        still = api.get("/api/v1/quarantine", params={"mailbox": bob}).json()["items"]
        assert message["id"] not in {m["id"] for m in still}

    # Its trace tells who held it and who let it go.
    _trace(page, "Queue id", message["message_id"])
    timeline = page.get_by_role("region", name=re.compile(f"Message {message['message_id']}"))
    titles = _titles(timeline)
    assert titles == ["Received", "Checks", "Hooks", "Stored, held", "Released from quarantine"]
    expect(timeline.get_by_role("listitem").nth(2)).to_contain_text(f"by plugin {HOLD_PLUGIN}")
    expect(timeline.get_by_role("listitem").last).to_contain_text("Moved to folder INBOX")

    # Bob, a user, sees his own quarantine (no mailbox to choose): empty now.
    page.get_by_role("button", name="Sign out").click()
    _sign_in_with_password(page, bob)
    page.get_by_role("link", name="Quarantine").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("^Nothing is held"))
    expect(page.get_by_label("Mailbox")).to_have_count(0)
    assert_accessible(page, "quarantine, user")


def test_a_stored_message_and_a_refused_recipient_are_traced(
    page: Page, shared_server: MairustServer
) -> None:
    marker = uuid.uuid4().hex[:6]
    carol = f"carol-{marker}@{DOMAIN}"
    refused = f"nobody-{marker}@{DOMAIN}"
    with shared_server.api() as api:
        assert api.post("/api/v1/users", json={"address": carol}).status_code == 201
        queue_id, message_id = _send(shared_server, [carol, refused], "traced")

        def stored() -> bool:
            trace = api.get("/api/v1/events/trace", params={"queue_id": queue_id}).json()
            return any(e["type"] == "Delivery" for e in trace["items"])

        wait_for(stored, timeout=30, what="the delivery recorded")

    _sign_in(page, "/trace")
    expect(page.get_by_text("Search for a message")).to_be_visible()
    assert_accessible(page, "trace, empty")
    _trace(page, "Message-ID", message_id.strip("<>"))
    timeline = page.get_by_role("region", name=re.compile(f"Message {queue_id}"))
    titles = _titles(timeline)
    assert titles == ["Refused at RCPT", "Received", "Checks", "Stored"], titles
    expect(timeline.get_by_role("listitem").last).to_contain_text(
        f"In the mailbox {carol}, folder INBOX"
    )

    _trace(page, "Recipient", refused)
    expect(page.get_by_role("status")).to_have_text("1 message found, oldest first.")
    timeline = page.get_by_role("region", name=re.compile(f"Message {queue_id}"))
    assert _titles(timeline) == ["Refused at RCPT"]
    refusal = timeline.get_by_role("listitem").first
    expect(refusal).to_contain_text("Refused at RCPT")
    expect(refusal).to_contain_text("550 5.1.1")
    expect(refusal).to_contain_text("by client 127.0.0.1")
