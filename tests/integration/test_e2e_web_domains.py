"""Scenario: domains, DNS, DKIM keys, aliases, users and API tokens through the admin UI.

In headless Chromium against the shared embedded `mairust up` (see test_e2e_web_ui.py):
the platform admin adds a domain, reads the DNS records to publish and runs the live
check against a real DNS server on the port the server's resolver asks (one record
published right, one with another value, one missing, one whose lookup fails: the page
must show what the API answers); generates an ed25519 key and rotates the RSA one (the
API's active selector changes); adds and deletes an alias, sets and clears the
catch-all; creates a user and sets its quota; creates a token, uses the secret the page
shows once and revokes it (the API then refuses it). A tenant admin is offered its
domains without the form to add one. Every page passes axe-core and a keyboard walk;
screenshots go to build/web-screenshots (the domain page's is docs/web/domain.png).
"""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from mairust.config import load_settings
from tests.support.browser import (
    ADMIN_MENU,
    TENANT_ADMIN_MENU,
    assert_accessible,
    assert_keyboard_reaches_everything,
    screenshot,
    watched_page,
)
from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import ADMIN_TOKEN, MairustServer

pytestmark = pytest.mark.parametrize("shared_server", ["embedded"], indirect=True)

PASSWORD = "a long test password"
TAG = uuid.uuid4().hex[:6]
DOMAIN = f"ui-{TAG}.test"
TENANT = f"tenant-{TAG}"
MiB = 1024 * 1024


def _expected_error(message: ConsoleMessage) -> bool:
    """A 401 (a revoked token), and the 404 that says a domain has no catch-all."""
    if "401" in message.text:
        return True
    return "404" in message.text and message.location.get("url", "").endswith("/catch-all")


@pytest.fixture
def page(browser: Browser, shared_server: MairustServer) -> Iterator[Page]:
    url = f"http://127.0.0.1:{shared_server.api_port}"
    with watched_page(browser, url, _expected_error) as page:
        yield page


@pytest.fixture
def zone(shared_server: MairustServer) -> Iterator[ZoneServer]:
    """DNS for DOMAIN on the loopback port the shared server's resolver asks (where nothing
    answers otherwise): its MX as the platform wants it, an SPF record that differs, no
    DKIM record, and a DMARC lookup that fails."""
    assert shared_server.config is not None
    port = tomllib.loads(shared_server.config.read_text())["dns"]["port"]
    mx_host = load_settings(shared_server.config, data_dir=shared_server.data_dir).smtp.hostname
    records = {DOMAIN: {"MX": [(10, mx_host)], "TXT": ["v=spf1 -all"]}}
    with ZoneServer(records, servfail_names=[f"_dmarc.{DOMAIN}"], port=port) as server:
        yield server


def _sign_in_as_admin(page: Page) -> None:
    page.goto("/")
    page.get_by_label("Token", exact=True).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def _check_page(page: Page, where: str) -> None:
    assert_accessible(page, where)
    assert_keyboard_reaches_everything(page, where)
    screenshot(page, where)


def _row(page: Page, header: str) -> Locator:
    header_cell = page.get_by_role("rowheader", name=header, exact=True)
    return page.get_by_role("row").filter(has=header_cell)


def _label(record: dict[str, str]) -> str:
    """The row header the page gives a record (src/domains/dnsCheck.ts recordLabel)."""
    purpose = record["purpose"].upper()
    if record["purpose"] != "dkim":
        return purpose
    return f"{purpose} ({record['name'].split('._domainkey.')[0]})"


def _active(api: httpx.Client) -> dict[str, str]:
    keys = api.get(f"/api/v1/domains/{DOMAIN}/dkim-keys").json()["items"]
    return {k["algorithm"]: k["selector"] for k in keys if k["state"] == "active"}


def test_the_admin_sets_up_a_domain(
    page: Page, shared_server: MairustServer, zone: ZoneServer
) -> None:
    _sign_in_as_admin(page)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ADMIN_MENU
    nav.get_by_role("link", name="Domains").click()
    expect(page.get_by_role("heading", name="Add a domain")).to_be_visible()
    _check_page(page, "domains")

    page.get_by_label("Domain name").fill(DOMAIN)
    page.get_by_label("Tenant").fill(TENANT)
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_role("heading", name=DOMAIN, level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(f"/domains/{re.escape(DOMAIN)}$"))
    with shared_server.api() as api:
        made = [d for d in api.get("/api/v1/domains").json()["items"] if d["name"] == DOMAIN]
        assert [d["tenant"] for d in made] == [TENANT]

        # The live check ran when the page opened; "Check now" asks the DNS again.
        status = page.get_by_role("status").filter(has_text=re.compile("Last checked"))
        expect(status).to_be_visible()
        asked = len(zone.queries_for(DOMAIN, "MX"))
        page.get_by_role("button", name="Check now").click()
        for _ in range(100):
            if len(zone.queries_for(DOMAIN, "MX")) > asked:
                break
            page.wait_for_timeout(100)
        assert len(zone.queries_for(DOMAIN, "MX")) > asked, "Check now asked no DNS"
        # The button reads "Checking…" until the check has answered.
        expect(page.get_by_role("button", name="Check now")).to_be_enabled()
        expect(status).to_be_visible()
        answer = api.get(f"/api/v1/domains/{DOMAIN}/dns-check").json()["items"]
        assert {c["status"] for c in answer} == {"ok", "different", "missing", "error"}
        for check in answer:
            state = _row(page, _label(check["record"])).get_by_role("cell").last
            expect(state).to_have_text(re.compile(rf"^{check['status']}\b"))
        expect(_row(page, "SPF")).to_contain_text("found: v=spf1 -all")
        _check_page(page, "domain")

        # DKIM: an ed25519 key beside the RSA one the records made, then the RSA one rotated.
        before = _active(api)
        assert list(before) == ["rsa2048"]
        page.get_by_label("Algorithm").select_option("ed25519")
        page.get_by_role("button", name="Generate key").click()
        expect(page.get_by_role("status").filter(has_text="is active")).to_be_visible()
        after_keygen = _active(api)
        assert set(after_keygen) == {"rsa2048", "ed25519"}
        expect(_row(page, f"DKIM ({after_keygen['ed25519']})")).to_be_visible()
        page.get_by_role("button", name=f"Rotate {before['rsa2048']}", exact=True).click()
        page.get_by_role("button", name="Yes, rotate").click()
        expect(page.get_by_role("status").filter(has_text="was retired")).to_be_visible()
        rotated = _active(api)
        assert rotated["rsa2048"] != before["rsa2048"]
        assert rotated["ed25519"] == after_keygen["ed25519"]
        expect(_row(page, rotated["rsa2048"])).to_contain_text("active")
        expect(_row(page, before["rsa2048"])).to_contain_text("retired")

    # A user of the new domain, then its quota.
    user = f"jane-{TAG}@{DOMAIN}"
    nav.get_by_role("link", name="Users").click()
    page.get_by_label("Address", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Role").select_option("user")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("cell", name=user, exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Edit quota of {user}").click()
    editor = page.get_by_role("form", name=f"Quota of {user}")
    editor.get_by_label("A limit of").check()
    editor.get_by_label("Quota size").fill("5")
    editor.get_by_label("Unit").select_option("MiB")
    assert_accessible(page, "users with the quota editor")
    editor.get_by_role("button", name="Save quota").click()
    saved = page.get_by_role("status").filter(has_text=f"The quota of {user} is 5 MiB")
    expect(saved).to_be_visible()
    with shared_server.api() as api:
        users = {u["address"]: u for u in api.get("/api/v1/users").json()["items"]}
        assert users[user]["role"] == "user" and users[user]["has_password"]
        quota = api.get(f"/api/v1/users/{users[user]['id']}/quota").json()
        assert quota["quota_bytes"] == 5 * MiB
    # Every user of the shared server is listed: the keyboard walk is the tenant admin's.
    assert_accessible(page, "users as the platform admin")

    # An alias to that user, deleted again; the catch-all set and cleared.
    nav.get_by_role("link", name="Domains").click()
    page.get_by_role("link", name=DOMAIN).click()
    alias = f"team@{DOMAIN}"
    page.get_by_label("Alias address").fill("team")
    page.get_by_label("Delivers to").fill(user)
    page.get_by_role("button", name="Add alias").click()
    expect(_row(page, alias)).to_contain_text(user)
    with shared_server.api() as api:
        aliases = api.get(f"/api/v1/domains/{DOMAIN}/aliases").json()["items"]
        assert [(a["address"], a["targets"]) for a in aliases] == [(alias, [user])]
        page.get_by_role("button", name=f"Delete {alias}").click()
        page.get_by_role("button", name="Yes, delete").click()
        expect(_row(page, alias)).to_have_count(0)
        assert api.get(f"/api/v1/domains/{DOMAIN}/aliases").json()["items"] == []

        page.get_by_label("Catch-all mailbox").fill(user)
        page.get_by_role("button", name="Set catch-all").click()
        expect(page.get_by_text("Mail for unknown addresses goes to")).to_contain_text(user)
        assert api.get(f"/api/v1/domains/{DOMAIN}/catch-all").json()["mailbox"] == user
        page.get_by_role("button", name="Clear catch-all").click()
        page.get_by_role("button", name="Yes, clear").click()
        expect(page.get_by_text("No catch-all")).to_be_visible()
        assert api.get(f"/api/v1/domains/{DOMAIN}/catch-all").status_code == 404


def test_the_admin_creates_uses_and_revokes_a_token(
    page: Page, shared_server: MairustServer
) -> None:
    base = f"http://127.0.0.1:{shared_server.api_port}"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    _sign_in_as_admin(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    name = f"ui token {TAG}"
    page.get_by_label("Name").fill(name)
    expect(page.get_by_label("read: list and read mail, domains, users")).to_be_checked()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("It will not be shown again")).to_be_visible()
    secret = page.get_by_label("Secret", exact=True).input_value()
    assert secret.startswith("mrt_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    # Every token of the shared server is listed: the keyboard walk is the tenant admin's.
    assert_accessible(page, "tokens as the platform admin")
    screenshot(page, "token-secret")

    me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin" and me.json()["permissions"] == ["read"]
    page.get_by_role("button", name="I have stored it").click()
    expect(page.get_by_label("Secret", exact=True)).to_have_count(0)

    page.get_by_role("button", name=f"Revoke {name}").click()
    page.get_by_role("button", name="Yes, revoke").click()
    expect(_row(page, name)).to_contain_text("revoked")
    refused = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401


def test_a_tenant_admin_is_offered_its_own_domain_users_and_tokens(
    page: Page, shared_server: MairustServer
) -> None:
    # Its own tenant (DOMAIN's, made by the admin above or here): the lists stay short
    # whatever other scenarios left on the shared server, so the keyboard walks stay short.
    address = f"boss-{TAG}@{DOMAIN}"
    with shared_server.api() as api:
        domain = api.post("/api/v1/domains", json={"name": DOMAIN, "tenant": TENANT})
        assert domain.status_code in (201, 409), domain.text
        made = api.post(
            "/api/v1/users", json={"address": address, "password": PASSWORD, "role": "tenant_admin"}
        )
        assert made.status_code == 201, made.text
    page.goto("/")
    page.get_by_label("Address and password", exact=True).check()
    page.get_by_label("Address", exact=True).fill(address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    labels = nav.get_by_role("link").all_inner_texts()
    assert labels == TENANT_ADMIN_MENU

    nav.get_by_role("link", name="Domains").click()
    expect(page.get_by_role("link", name=DOMAIN)).to_be_visible()
    # Another tenant's domain is not listed; only the platform admin may add a domain.
    expect(page.get_by_role("link", name="example.test")).to_have_count(0)
    expect(page.get_by_role("heading", name="Add a domain")).to_have_count(0)
    _check_page(page, "domains-tenant-admin")

    page.get_by_role("link", name=DOMAIN).click()
    expect(page.get_by_role("heading", name="DKIM keys")).to_be_visible()
    expect(page.get_by_role("button", name="Add alias")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Last checked")).to_be_visible()
    _check_page(page, "domain-tenant-admin")

    nav.get_by_role("link", name="Users").click()
    expect(page.get_by_role("cell", name=address, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Create a user")).to_be_visible()
    _check_page(page, "users")

    nav.get_by_role("link", name="Tokens").click()
    # A tenant admin's token is a tenant admin's or a user's, never the platform's.
    expect(page.get_by_label("Role").locator("option")).to_have_text(["Tenant admin", "User"])
    _check_page(page, "tokens")
