"""Scenario: the Hooks pages of the admin UI in headless Chromium, on a real `mairust up`.

A real plugin is installed through the API first: header-rules-rs, the bundled Rust plugin
on the stdin transport (a child process, so no network allowance is needed on the shared
server), configured to reject one subject word and tag another. Its install-made binding is
put in shadow mode at priority 200 through the API. Then, through the browser, the operator
binds it again at pre_receive (enforce, priority 50), sees every hook point in pipeline
order and the new binding listed before the shadow one, disables and re-enables it (the
API holds each change), dry-runs pre_receive on a pasted message and on a stored one found
by search, and sees each plugin's verdict and latency as the API answered them; then
edits its priority (it moves after the shadow binding) and removes it after confirming.
axe-core and the keyboard walk on both pages;
screenshots in build/web-screenshots, the hooks page's copied to docs/web/hooks.png.
"""

from __future__ import annotations

import re
import shutil
import smtplib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    assert_accessible,
    assert_keyboard_reaches_everything,
    screenshot,
    watched_page,
)
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer, wait_for
from tests.support.stdin_plugins import header_rules_rs_package

pytestmark = pytest.mark.parametrize("shared_server", ["embedded"], indirect=True)

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "example.test"
PLUGIN = "header-rules-rs"
POINTS = [
    "connect",
    "mail_from",
    "rcpt_to",
    "pre_receive",
    "post_receive",
    "pre_delivery",
    "pre_send",
]
REJECT_REPLY = "550 5.7.1 No hookpills here"
RULES = {
    "rules": [
        {
            "header": "Subject",
            "pattern": r"\bhookpills\b",
            "action": "reject",
            "reply": REJECT_REPLY,
        },
        {"header": "Subject", "pattern": r"\bhooktag\b", "action": "tag", "tag": "hook-tested"},
    ]
}


@dataclass(frozen=True)
class Installed:
    shadow_id: str
    stored_subject: str
    stored_mailbox: str


@pytest.fixture
def page(browser: Browser, shared_server: MairustServer) -> Iterator[Page]:
    with watched_page(browser, f"http://127.0.0.1:{shared_server.api_port}") as page:
        yield page


@pytest.fixture
def installed(shared_server: MairustServer, tmp_path: Path) -> Iterator[Installed]:
    """A mailbox holding a message the plugin will refuse (sent before it is bound), and
    header-rules-rs installed, configured, on, its own binding in shadow at priority 200.
    Uninstalled afterwards: the shared server's other scenarios never meet it."""
    package = header_rules_rs_package(tmp_path / "package")
    word = uuid.uuid4().hex[:8]
    subject = f"hookpills {word}"
    with shared_server.api() as api:
        mailbox = f"hooks-{word}@{DOMAIN}"
        made = api.post("/api/v1/users", json={"address": mailbox, "role": "user"})
        assert made.status_code == 201, made.text
        _send(shared_server, mailbox, subject)
        # Stored, and findable by search (the index is written after delivery).
        wait_for(lambda: _found(api, word), timeout=60, what="the stored message in search")
        if api.get(f"/api/v1/admin/plugins/{PLUGIN}").status_code == 200:
            api.delete(f"/api/v1/admin/plugins/{PLUGIN}")
        answer = api.post("/api/v1/admin/plugins", json={"path": str(package)})
        assert answer.status_code == 201, answer.text
        answer = api.patch(
            f"/api/v1/admin/plugins/{PLUGIN}", json={"config": RULES, "enabled": True}
        )
        assert answer.status_code == 200, answer.text
        [own] = _bindings(api)
        answer = api.patch(
            f"/api/v1/admin/hooks/{own['id']}", json={"mode": "shadow", "priority": 200}
        )
        assert answer.status_code == 200, answer.text
        # The API process starts its own child of the plugin on its first call: start it
        # now, so the page's first test is not the one that waits for it.
        wait_for(lambda: _warm(api, mailbox), timeout=60, what="the plugin's child answering")
    try:
        yield Installed(own["id"], subject, mailbox)
    finally:
        with shared_server.api() as api:
            api.delete(f"/api/v1/admin/plugins/{PLUGIN}")


def _send(server: MairustServer, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "sender@remote.example"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"plain text of {subject}")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        smtp.send_message(message)


def _found(api: httpx.Client, word: str) -> bool:
    answer = api.get("/api/v1/search", params={"q": word})
    return answer.status_code == 200 and bool(answer.json()["items"])


def _warm(api: httpx.Client, mailbox: str) -> bool:
    message = "From: a@remote.example\r\nSubject: warm up\r\n\r\nhi\r\n"
    body = {"message": message, "rcpt_tos": [mailbox]}
    answer = api.post("/api/v1/admin/hooks/pre_receive/test", json=body)
    assert answer.status_code == 200, answer.text
    return all(c["outcome"] == "answered" for c in answer.json()["calls"] if c["plugin"] == PLUGIN)


def _bindings(api: httpx.Client) -> list[dict[str, Any]]:
    answer = api.get("/api/v1/admin/hooks", params={"point": "pre_receive"})
    assert answer.status_code == 200, answer.text
    return [b for b in answer.json()["items"] if b["plugin"] == PLUGIN]


def _latency(ms: float) -> str:
    """As the page writes it: at most two decimals, thousands grouped."""
    return f"{ms:,.2f}".rstrip("0").rstrip(".") + " ms"


def _dry_run(page: Page) -> dict[str, Any]:
    """Runs the test in the page; the API's answer, once the page shows it."""
    with page.expect_response(re.compile(r"/api/v1/admin/hooks/pre_receive/test$")) as answer:
        page.get_by_role("button", name="Run the test").click()
    assert answer.value.status == 200, answer.value.text()
    ran: dict[str, Any] = answer.value.json()
    expect(page.get_by_role("heading", name="Result at pre_receive")).to_be_visible()
    rows = page.get_by_role("table").last.locator("tbody tr")
    expect(rows).to_have_count(len(ran["calls"]))
    for row, call in zip(rows.all(), ran["calls"], strict=True):
        cells = row.locator("th, td")
        expect(cells.nth(0)).to_have_text(call["plugin"])
        expect(cells.nth(2)).to_contain_text(call["verdict"])
        expect(cells.nth(3)).to_have_text(_latency(call["latency_ms"]))
    return ran


def test_the_operator_binds_a_plugin_and_tests_the_hook(
    page: Page, shared_server: MairustServer, installed: Installed
) -> None:
    page.goto("/")
    page.get_by_label("Token", exact=True).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Hooks").click()
    expect(page.get_by_role("heading", name="Hooks", level=1)).to_be_visible()
    expect(page.get_by_text("Loading…")).to_have_count(0)
    # Every point, in pipeline order; one the API says is empty says so.
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert [h for h in headings if h in POINTS] == POINTS
    with shared_server.api() as api:
        bound = {b["point"] for b in api.get("/api/v1/admin/hooks").json()["items"]}
    for point in set(POINTS) - bound:
        region = page.get_by_role("region", name=point, exact=True)
        expect(region).to_contain_text(f"No plugin is bound at {point}")

    page.get_by_label("Plugin", exact=True).select_option(PLUGIN)
    page.get_by_label("Hook point", exact=True).select_option("pre_receive")
    page.get_by_label("Priority", exact=True).fill("50")
    page.get_by_label("Mode", exact=True).select_option("enforce")
    page.get_by_role("button", name="Add binding").click()
    expect(
        page.get_by_text("Bound header-rules-rs at pre_receive (priority 50, enforce).")
    ).to_be_visible()
    with shared_server.api() as api:
        ours = _bindings(api)
    assert [(b["priority"], b["mode"], b["enabled"]) for b in ours] == [
        (50, "enforce", True),
        (200, "shadow", True),
    ]
    [added] = [b for b in ours if b["id"] != installed.shadow_id]

    # Listed in the order they run: the new binding before the shadow one, each with the
    # manifest's time limit and failure policy.
    table = page.get_by_role("region", name="pre_receive", exact=True).get_by_role("table")
    rows = table.locator("tbody tr")
    ours_in_page = [t for t in rows.all_inner_texts() if PLUGIN in t]
    assert len(ours_in_page) == 2, ours_in_page
    assert "\t50\tenforce\t500 ms\taccept (no opinion)\taccept (no opinion)" in ours_in_page[0]
    assert "\t200\tshadow\t" in ours_in_page[1]
    priorities = [int(p) for p in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert priorities == sorted(priorities)
    assert_accessible(page, "hooks")
    shutil.copy(screenshot(page, "hooks"), REPO / "docs" / "web" / "hooks.png")
    assert_keyboard_reaches_everything(page, "hooks")

    # One click off, one click on: the page shows the API's answer, the API holds it.
    which = "header-rules-rs at pre_receive, priority 50"
    page.get_by_role("button", name=f"Disable {which}").click()
    expect(page.get_by_role("button", name=f"Enable {which}")).to_be_visible()
    with shared_server.api() as api:
        assert not _enabled(api, added["id"])
    page.get_by_role("button", name=f"Enable {which}").click()
    expect(page.get_by_role("button", name=f"Disable {which}")).to_be_visible()
    with shared_server.api() as api:
        assert _enabled(api, added["id"])

    # A pasted message: the rule tags it, both bindings answer, nothing is refused.
    page.get_by_role("link", name="Test a hook point").click()
    expect(page.get_by_role("heading", name="Test a hook point", level=1)).to_be_visible()
    page.get_by_label("Message (RFC 5322").fill(
        "From: someone@remote.example\nSubject: hello hooktag\n\nA pasted body.\n"
    )
    page.get_by_label("Recipients").fill(installed.stored_mailbox)
    ran = _dry_run(page)
    assert ran["verdict"] == "continue" and ran["reply"] is None
    ours_ran = [c for c in ran["calls"] if c["plugin"] == PLUGIN]
    assert [(c["mode"], c["outcome"], c["tags"]) for c in ours_ran] == [
        ("enforce", "answered", ["hook-tested"]),
        ("shadow", "answered", ["hook-tested"]),
    ]
    expect(page.get_by_test_id("combined-verdict")).to_contain_text("Combined verdict: continue")
    expect(page.get_by_text("Tags: hook-tested").first).to_be_visible()

    # A stored message, found by search: the enforced rule refuses it with its own reply.
    page.get_by_label("Search stored messages").fill(installed.stored_subject.split()[1])
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("button", name=f"Use “{installed.stored_subject}”").click()
    expect(page.get_by_label("Message (RFC 5322")).to_have_value(
        re.compile(f"Subject: {installed.stored_subject}")
    )
    expect(page.get_by_label("Recipients")).to_have_value(installed.stored_mailbox)
    ran = _dry_run(page)
    assert ran["verdict"] == "reject" and ran["reply"] == REJECT_REPLY
    expect(page.get_by_test_id("combined-verdict")).to_contain_text(
        f"The client would be answered “{REJECT_REPLY}”"
    )
    assert_accessible(page, "hook test")
    screenshot(page, "hook-test")
    assert_keyboard_reaches_everything(page, "hook test")

    # Edited: priority 250 puts it after the shadow binding, in the API and on the page.
    page.get_by_role("link", name="← Hooks").click()
    page.get_by_role("button", name=f"Edit {which}").click()
    editor = page.get_by_role("form", name="Edit header-rules-rs at pre_receive")
    editor.get_by_label("Priority", exact=True).fill("250")
    editor.get_by_role("button", name="Save").click()
    which = "header-rules-rs at pre_receive, priority 250"
    expect(page.get_by_role("button", name=f"Disable {which}")).to_be_visible()
    with shared_server.api() as api:
        assert [(b["priority"], b["mode"]) for b in _bindings(api)] == [
            (200, "shadow"),
            (250, "enforce"),
        ]
    ours_in_page = [t for t in rows.all_inner_texts() if PLUGIN in t]
    assert "\t200\tshadow\t" in ours_in_page[0], ours_in_page
    assert "\t250\tenforce\t" in ours_in_page[1], ours_in_page

    # Removed after a confirmation; the plugin stays installed, its shadow binding too.
    page.get_by_role("button", name=f"Delete {which}").click()
    page.get_by_role("button", name=f"Remove {which}").click()
    expect(page.get_by_text("Removed header-rules-rs from pre_receive.")).to_be_visible()
    with shared_server.api() as api:
        assert [b["id"] for b in _bindings(api)] == [installed.shadow_id]


def _enabled(api: httpx.Client, binding_id: str) -> bool:
    [found] = [b for b in api.get("/api/v1/admin/hooks").json()["items"] if b["id"] == binding_id]
    return bool(found["enabled"])
