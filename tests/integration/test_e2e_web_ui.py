"""Scenario: the admin UI in headless Chromium, served by a real `mairust up`.

The server is the shared embedded one (its API serves `web/dist`, which `make web` built;
the UI is the same on every store, so the production twin is left out). Through the
browser: a wrong token is refused in the API's words; the operator signs in with the admin
token, sees the dashboard's charts, sends mail over SMTP and watches the charts count it
(and a submission to a domain nobody can look up shows as deferred by destination);
a tenant admin and a user sign in with their passwords and are shown their roles' pages
only; the user finds the message, opens it (HTML in a sandboxed frame, the
Authentication-Results header) and signs out, which revokes the log-in token; a user flags
a message from the list, then tags, moves, flags and marks read another from its reading
view, downloads its attachment (the same bytes the API holds) and deletes a third to Trash,
each change read back from the API. Every page
passes axe-core (no serious or critical violation) and a keyboard walk (every control
reached by Tab, each with a visible focus ring). Screenshots go to build/web-screenshots.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.support.browser import (
    ADMIN_MENU,
    TENANT_ADMIN_MENU,
    USER_MENU,
    assert_accessible,
    assert_keyboard_reaches_everything,
    screenshot,
    watched_page,
)
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer

pytestmark = pytest.mark.parametrize("shared_server", ["embedded"], indirect=True)

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "example.test"
PASSWORD = "a long test password"
SANDBOX_REFUSAL = "Blocked script execution in 'about:srcdoc'"


@pytest.fixture
def page(browser: Browser, shared_server: MairustServer) -> Iterator[Page]:
    # Two console errors are on purpose: the wrong token's 401, and the sandbox refusing
    # the script in a message's HTML.
    def expected(message: ConsoleMessage) -> bool:
        return "401" in message.text or message.text.startswith(SANDBOX_REFUSAL)

    with watched_page(browser, f"http://127.0.0.1:{shared_server.api_port}", expected) as page:
        yield page


def _user(api: httpx.Client, role: str) -> str:
    address = f"{role.replace('_', '-')}-{uuid.uuid4().hex[:6]}@{DOMAIN}"
    made = api.post("/api/v1/users", json={"address": address, "password": PASSWORD, "role": role})
    assert made.status_code == 201, made.text
    return address


def _send(
    server: MairustServer,
    to: str,
    subject: str,
    html: bool = False,
    attachment: tuple[str, bytes] | None = None,
) -> None:
    message = EmailMessage()
    message["From"] = "sender@remote.example"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"plain text of {subject}")
    if html:
        message.add_alternative(
            f"<p>HTML of <b>{subject}</b></p><script>parent.document.title='pwned'</script>",
            subtype="html",
        )
    if attachment is not None:
        name, content = attachment
        message.add_attachment(
            content, maintype="application", subtype="octet-stream", filename=name
        )
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as smtp:
        smtp.send_message(message)


def _sign_in_with_token(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in").click()


def _sign_in_with_password(page: Page, address: str) -> None:
    page.goto("/")
    page.get_by_label("Address and password", exact=True).check()
    page.get_by_label("Address", exact=True).fill(address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _nav_labels(page: Page) -> list[str]:
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    return nav.get_by_role("link").all_inner_texts()


def _wait_for_link(page: Page, name: str) -> None:
    """Delivery to the mailbox is asynchronous: load the list again until ``name`` is in it."""
    link = page.get_by_role("link", name=name)
    for _ in range(30):
        page.get_by_role("heading", name="Messages").wait_for()
        expect(page.get_by_text("Loading…")).to_have_count(0)
        if link.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(link).to_be_visible()


def _entries(api: httpx.Client, mailbox: str) -> dict[str, dict[str, object]]:
    """The mailbox's messages as the API holds them, by subject."""
    listed = api.get("/api/v1/messages", params={"mailbox": mailbox, "limit": 50})
    assert listed.status_code == 200, listed.text
    return {item["subject"]: item for item in listed.json()["items"]}


def _messages_in(page: Page) -> int:
    """The dashboard's count of messages in, as its chart's legend says it."""
    legend = page.get_by_role("figure", name="Messages per minute").locator(".legend li").first
    match = re.search(r"In: ([\d,]+) in all", legend.inner_text())
    assert match, legend.inner_text()
    return int(match.group(1).replace(",", ""))


def test_a_wrong_token_is_refused_in_the_apis_words(
    page: Page, shared_server: MairustServer
) -> None:
    wrong = "mrt_not-a-real-token"
    refusal = httpx.get(
        f"http://127.0.0.1:{shared_server.api_port}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {wrong}"},
    )
    assert refusal.status_code == 401
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Sign in to MaiRust")).to_be_visible()
    assert_accessible(page, "sign-in")
    assert_keyboard_reaches_everything(page, "sign-in")
    _sign_in_with_token(page, wrong)
    problem = refusal.json()
    expect(page.get_by_role("alert")).to_have_text(f"{problem['title']}: {problem['detail']}")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    assert_accessible(page, "sign-in with an error")
    screenshot(page, "sign-in-refused")


def test_the_operator_watches_the_dashboard_count_mail(
    page: Page, shared_server: MairustServer
) -> None:
    with shared_server.api() as api:
        rcpt = _user(api, "user")
    _sign_in_with_token(page, ADMIN_TOKEN)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    assert _nav_labels(page) == ADMIN_MENU
    expect(page.get_by_role("figure", name="Messages per minute")).to_be_visible()
    for chart in ("SMTP replies per minute", "Queue depth", "Hook latency"):
        expect(page.get_by_role("figure", name=chart)).to_be_visible()
    before = _messages_in(page)
    for n in range(3):
        _send(shared_server, rcpt, f"dashboard {n}")
    # The page refreshes by itself (every 5 s): no reload, no click.
    page.wait_for_function(
        """(before) => {
            const li = document.querySelector('#chart-messages-caption')
                ?.closest('figure')?.querySelector('.legend li');
            const m = li && li.textContent.match(/In: ([\\d,]+) in all/);
            return m && Number(m[1].replace(/,/g, '')) >= before + 3;
        }""",
        arg=before,
        timeout=30_000,
    )
    replies = page.get_by_role("figure", name="SMTP replies per minute")
    expect(replies.locator(".legend")).to_contain_text("250")
    # The chart draws what the legend counts: a line with as many points as minutes.
    points = page.locator("#chart-messages-caption ~ svg polyline").first.get_attribute("points")
    assert points and len(points.split()) == 15
    for chart in ("Queue by state", "Hook verdicts", "SPF results", "DKIM results"):
        expect(page.get_by_role("figure", name=chart)).to_be_visible()

    # Mail the user submits for a domain whose MX nobody can look up (the server's DNS
    # is a silent loopback port): deferred, and the dashboard shows it by destination.
    destination = f"nowhere-{uuid.uuid4().hex[:6]}.test"
    with smtplib.SMTP("127.0.0.1", shared_server.submission_port, timeout=30) as client:
        client.login(rcpt, PASSWORD)
        client.sendmail(rcpt, [f"someone@{destination}"], "Subject: far\r\n\r\nHi.\r\n")
    deferred = page.get_by_role("figure", name="Deferred by destination")
    expect(deferred.locator(".legend")).to_contain_text(f"{destination}: 1", timeout=45_000)
    expect(page.get_by_role("figure", name="Queue by state").locator(".legend")).to_contain_text(
        "outbound deferred"
    )
    assert_accessible(page, "dashboard")
    assert_keyboard_reaches_everything(page, "dashboard")
    screenshot(page, "dashboard")
    with shared_server.api() as api:  # leave the shared server's queue as it was
        gone = api.post("/api/v1/outbound/delete", json={"destination": destination})
        assert gone.status_code == 200, gone.text


def test_each_role_is_shown_its_own_pages(page: Page, shared_server: MairustServer) -> None:
    with shared_server.api() as api:
        carol = _user(api, "tenant_admin")
        dave = _user(api, "user")
    _sign_in_with_password(page, carol)
    expect(page).to_have_url(re.compile(r"/messages$"))
    assert _nav_labels(page) == TENANT_ADMIN_MENU
    expect(page.get_by_test_id("role")).to_have_text("Tenant admin")
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("cell", name=dave, exact=True)).to_be_visible()
    assert_accessible(page, "users")
    page.get_by_role("button", name="Sign out").click()

    _sign_in_with_password(page, dave)
    assert _nav_labels(page) == USER_MENU
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("definition").first).to_have_text("User")
    assert_accessible(page, "account")


def test_a_user_reads_a_message_and_signs_out(page: Page, shared_server: MairustServer) -> None:
    with shared_server.api() as api:
        erin = _user(api, "user")
    subject = f"web ui {uuid.uuid4().hex[:6]}"
    _send(shared_server, erin, subject, html=True)
    _sign_in_with_password(page, erin)
    assert _nav_labels(page) == USER_MENU
    token = json.loads(page.evaluate("sessionStorage.getItem('mairust.session')"))["token"]
    link = page.get_by_role("link", name=subject)
    _wait_for_link(page, subject)
    assert_accessible(page, "messages")
    assert_keyboard_reaches_everything(page, "messages")
    screenshot(page, "messages")

    link.click()
    expect(page.get_by_role("heading", name=subject, level=1)).to_be_visible()
    frame = page.locator("iframe.message-html")
    assert frame.get_attribute("sandbox") == ""
    expect(page.frame_locator("iframe.message-html").locator("b")).to_have_text(subject)
    # The message's script did not run (sandbox without allow-scripts).
    assert page.title() != "pwned"
    # Below the fold since the action bar: scrolled to first, or the click can land on the
    # message's frame while the page scrolls.
    headers = page.get_by_text("All headers")
    headers.scroll_into_view_if_needed()
    headers.click()
    expect(page.get_by_role("rowheader", name="Subject")).to_be_visible()
    assert_accessible(page, "message")
    screenshot(page, "message")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    # The log-in token the UI held is revoked, not just forgotten.
    answer = httpx.get(
        f"http://127.0.0.1:{shared_server.api_port}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 401


def test_a_user_flags_tags_moves_downloads_and_deletes(
    page: Page, shared_server: MairustServer
) -> None:
    tag = f"proj-{uuid.uuid4().hex[:4]}"
    payload = os.urandom(3000) + b"\r\n\x00 the end"
    with shared_server.api() as api:
        fay = _user(api, "user")
        made = api.post(f"/api/v1/mailboxes/{fay}/folders", json={"name": "Projects"})
        assert made.status_code == 201, made.text
    _send(shared_server, fay, "keep me", attachment=("figures.bin", payload))
    _send(shared_server, fay, "flag me")
    _send(shared_server, fay, "delete me")
    _sign_in_with_password(page, fay)
    for subject in ("keep me", "flag me", "delete me"):
        _wait_for_link(page, subject)

    # From the list: a flag toggle on each row.
    toggle = page.get_by_role("button", name="Flagged: flag me")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    with shared_server.api() as api:
        assert _entries(api, fay)["flag me"]["flagged"] is True

    # The reading view: tag, move, flag, read.
    page.get_by_role("link", name="keep me").click()
    expect(page.get_by_role("heading", name="keep me", level=1)).to_be_visible()
    status = page.get_by_role("status")
    page.get_by_label("New tag").fill(tag)
    page.get_by_role("button", name="Add tag").click()
    expect(status).to_have_text(f"Tagged “{tag}”.")
    expect(page.get_by_role("button", name=f"Remove tag {tag}")).to_be_visible()
    page.get_by_label("Move to folder").select_option("Projects")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(status).to_have_text("Moved to Projects.")
    page.get_by_role("button", name="Flag", exact=True).click()
    expect(status).to_have_text("Flagged.")
    page.get_by_role("button", name="Mark as read").click()
    expect(page.get_by_role("button", name="Mark as unread")).to_be_visible()
    with shared_server.api() as api:
        kept = _entries(api, fay)["keep me"]
        assert (kept["tags"], kept["folder"], kept["flagged"], kept["seen"]) == (
            [tag],
            "Projects",
            True,
            True,
        )
        served = api.get(f"/api/v1/messages/{kept['id']}/attachments/0")
    assert served.content == payload

    # The attachment: fetched with the token, saved as a download, the very bytes.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download figures.bin").click()
    assert download.value.suggested_filename == "figures.bin"
    assert Path(download.value.path()).read_bytes() == payload
    assert_accessible(page, "message actions")
    assert_keyboard_reaches_everything(page, "message actions")
    screenshot(page, "message-actions")

    # Delete: asked first, then to Trash.
    page.get_by_role("link", name="← Messages").click()
    page.get_by_role("link", name="delete me").click()
    page.get_by_role("button", name="Delete", exact=True).click()
    confirm = page.get_by_role("group", name="Move “delete me” to Trash?")
    expect(confirm).to_be_visible()
    assert_accessible(page, "delete confirmation")
    confirm.get_by_role("button", name="Yes, move to Trash").click()
    expect(page.get_by_role("status")).to_have_text("Moved to Trash.")
    with shared_server.api() as api:
        assert _entries(api, fay)["delete me"]["folder"] == "Trash"


def test_the_live_apps_openapi_is_the_committed_snapshot(shared_server: MairustServer) -> None:
    with shared_server.api() as api:
        live = api.get("/openapi.json").json()
    assert live == json.loads((REPO / "web" / "openapi.json").read_text())
