"""Scenario: two regions, each a real `mairust up` on loopback. Region ``a`` runs on the
embedded stores; region ``b`` on PostgreSQL, S3 and OpenSearch (a database, bucket and
index of its own, dropped afterwards). The tenant of away.test is homed in ``b``; ``a``
holds its directory row (``POST /api/v1/tenants`` with ``home_region``).

Mail for kim@away.test that reaches ``a``'s SMTP edge gets 250 there and is relayed to
``b``'s relay endpoint over STARTTLS (``b``'s certificate checked against the configured
CA file) with AUTH as ``b``'s relay login, the password read from ``a``'s secret store;
it lands in kim's mailbox in ``b``. With ``b`` stopped, the next message is accepted and
kept queued (deferred) in ``a``; when ``b`` is started again it is delivered, exactly
once. Meanwhile ``a``'s API answers the tenant's calls with a 307 to ``b``'s API and
``a``'s submission port refuses kim's AUTH with where to submit (535 5.7.0). A token
issued by ``b`` (``mrt_b_...``) is redirected by ``a`` to ``b`` unchecked, and a send
through ``a`` is accepted at ``b`` when the client follows the redirect."""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dns_server import ZoneServer
from tests.support.mairust_server import MairustServer, wait_for
from tests.support.region_servers import (
    production_places,
    region_toml,
    with_tls,
    write_region_file,
)
from tests.support.tls_certs import self_signed

log = logging.getLogger(__name__)

DOMAIN = "away.test"
USER = f"kim@{DOMAIN}"
RELAY_HOST = "relay.b.test"  # b's relay endpoint: the name its certificate carries
RELAY_LOGIN = "relay@ops.b.test"
RELAY_PASSWORD = "relay-s3cret"
KIM_PASSWORD = "kim's password"


def message(subject: str) -> str:
    return (
        f"From: Ann <ann@origin.example>\r\nTo: {USER}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@origin.example>\r\n\r\nAcross regions.\r\n"
    )


def send_to(server: MairustServer, subject: str) -> tuple[int, bytes]:
    """One message for kim@away.test at ``server``'s inbound port; the reply to DATA."""
    with smtplib.SMTP("127.0.0.1", server.smtp_port, "mx.origin.example", timeout=30) as c:
        c.ehlo()
        assert c.mail("ann@origin.example")[0] == 250
        code, text = c.rcpt(USER)
        assert code == 250, text
        return c.data(message(subject))


def stored_with(server: MairustServer, subject: str) -> list[dict[str, Any]]:
    """The mailbox entries in ``server``'s region whose subject is ``subject``."""
    with server.api() as api:
        answer = api.get("/api/v1/messages", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    return [item for item in answer.json()["items"] if item["subject"] == subject]


def outbound_rows(server: MairustServer) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get("/api/v1/outbound", params={"limit": 100})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def started_beside(server: MairustServer) -> threading.Thread:
    """``server`` starting on a thread of its own (a start is mostly waiting for Ray), so
    the test prepares and starts the other region meanwhile; join, then check ``proc``."""
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    return thread


def post_ok(server: MairustServer, path: str, body: dict[str, Any]) -> None:
    with server.api() as api:
        made = api.post(path, json=body)
    assert made.status_code == 201, made.text


def test_foreign_tenant_mail_is_relayed_home_queued_while_home_is_down_and_api_redirects(
    new_server: Callable[..., MairustServer], tmp_path: Path
) -> None:
    regions = tmp_path / "regions.toml"
    certificate = self_signed(tmp_path, RELAY_HOST, "127.0.0.1")
    with ZoneServer({RELAY_HOST: {"A": ["127.0.0.1"]}}) as dns:
        a_config = tmp_path / "a.toml"
        a_config.write_text(region_toml("a", dns.port, regions=regions, ca_file=certificate.cert))
        b_toml = with_tls(
            region_toml("b", dns.port, regions=regions, ca_file=certificate.cert),
            certificate.cert,
            certificate.key,
        )
        with production_places(tmp_path / "b-places", b_toml) as b_config:
            a = MairustServer(data_dir=tmp_path / "a", config=a_config, domains=("a.test",))
            b = MairustServer(
                data_dir=tmp_path / "b", config=b_config, domains=(DOMAIN, "ops.b.test")
            )
            try:
                run_scenario(a, b, regions)
            finally:
                for server in (a, b):
                    if server.proc is not None and server.proc.poll() is None:
                        server.kill9()


def run_scenario(a: MairustServer, b: MairustServer, regions: Path) -> None:
    began = time.monotonic()

    def phase(name: str) -> None:
        log.info("regions scenario: %s at %.1f s", name, time.monotonic() - began)

    # b starts first (it does not need a's secret); its region file names a's login only.
    logins = {"a": ("relay@ops.a.test", "unused"), "b": (RELAY_LOGIN, "not-yet-sealed")}
    write_region_file(regions, {"a": a, "b": b}, RELAY_HOST, logins)
    b_starting = started_beside(b)
    # a: the relay password sealed in a's secret store, its id in the regions file.
    secret = a.cli("secrets", "relay-password", stdin=RELAY_PASSWORD)
    assert secret.returncode == 0, secret.stderr
    logins["b"] = (RELAY_LOGIN, secret.stdout.strip())
    write_region_file(regions, {"a": a, "b": b}, RELAY_HOST, logins)
    a.start()
    b_starting.join()
    assert b.proc is not None and b.proc.poll() is None, "".join(b.output[-40:])
    phase("both up")
    # b, the home: kim's mailbox, and the login the other regions relay with.
    post_ok(b, "/api/v1/users", {"address": USER, "password": KIM_PASSWORD})
    post_ok(b, "/api/v1/users", {"address": RELAY_LOGIN, "password": RELAY_PASSWORD})
    # a: the tenant's directory row, homed in b (the operator makes it in every region).
    post_ok(a, "/api/v1/tenants", {"name": "away", "home_region": "b"})
    post_ok(a, "/api/v1/domains", {"name": DOMAIN, "tenant": "away"})
    phase("directory made")

    # Relayed home: 250 at a, stored in b, the hop from a over TLS with AUTH.
    assert send_to(a, "relayed home")[0] == 250
    [entry] = wait_for(lambda: stored_with(b, "relayed home"), timeout=30, what="relay to b")
    with b.api() as api:
        raw = api.get(f"/api/v1/messages/{entry['id']}/raw").content
    assert b"from mx.a.test" in raw and b"ESMTPSA" in raw, raw[:600]
    assert stored_with(a, "relayed home") == []  # nothing for a mailbox in a

    # b stopped: a accepts and keeps the message queued, deferred with b unreachable.
    phase("relayed")
    assert b.stop() == 0
    phase("b stopped")
    assert send_to(a, "while b was down")[0] == 250

    def deferred() -> dict[str, Any] | None:
        rows = [r for r in outbound_rows(a) if r["state"] == "deferred"]
        return next((r for r in rows if r["attempts"] >= 1), None)

    row = wait_for(deferred, timeout=30, what="a deferred row in a")
    assert row["recipient"] == USER and row["last_reply"].startswith("4"), row
    assert row["destination"] == f"relay:{RELAY_HOST}:{b.smtp_port}", row
    # Meanwhile: the API and submission of a answer for b's tenant by sending it to b.
    check_api_redirects(a, b, away_token_of(a, "away"))
    check_submission_refused(a, b)

    # b back: the queued message is delivered, once.
    phase("deferred, redirects and refusal checked")
    b.start()
    phase("b up again")
    wait_for(lambda: stored_with(b, "while b was down"), timeout=30, what="delivery after restart")
    wait_for(
        lambda: {r["state"] for r in outbound_rows(a)} == {"delivered"},
        timeout=30,
        what="a's rows delivered",
    )
    assert len(stored_with(b, "while b was down")) == 1
    assert len(stored_with(b, "relayed home")) == 1

    # A token b issued: a sends the caller to b (307), where the call is answered.
    home_token = away_token_of(b, DOMAIN)
    assert home_token.startswith("mrt_b_")
    phase("delivered once")
    check_api_redirects(a, b, home_token)
    check_send_is_answered_at_home(a, b, home_token)


def away_token_of(server: MairustServer, tenant_name: str) -> str:
    """A tenant-admin token of the away tenant, issued by ``server``'s API."""
    with server.api() as api:
        tenants = api.get("/api/v1/tenants").json()["items"]
        tenant = next(t for t in tenants if t["name"] == tenant_name)
        made = api.post(
            "/api/v1/tokens",
            json={
                "name": "away-admin",
                "role": "tenant_admin",
                "tenant_id": tenant["id"],
                "permissions": ["read", "send"],
            },
        )
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


def check_api_redirects(a: MairustServer, b: MairustServer, token: str) -> None:
    """The tenant's call at a is answered 307 to b's API, same path and query."""
    with httpx.Client(base_url=f"http://127.0.0.1:{a.api_port}", timeout=30) as api:
        answer = api.get("/api/v1/domains?limit=5", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 307, answer.text
    assert answer.headers["location"] == f"http://127.0.0.1:{b.api_port}/api/v1/domains?limit=5"
    assert answer.headers["content-type"].startswith("application/problem+json")


def check_send_is_answered_at_home(a: MairustServer, b: MairustServer, token: str) -> None:
    """POST /api/v1/send at a: 307 to b's, where the same request is accepted and stored."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"from": USER, "to": [USER], "subject": "sent through a", "text": "hello"}
    with httpx.Client(timeout=30) as client:
        answer = client.post(
            f"http://127.0.0.1:{a.api_port}/api/v1/send", json=body, headers=headers
        )
        assert answer.status_code == 307, answer.text
        location = answer.headers["location"]
        assert location == f"http://127.0.0.1:{b.api_port}/api/v1/send"
        # httpx, like curl and browsers, drops the token on a redirect to another origin:
        # the client sends it again to the home region on purpose.
        assert client.post(location, json=body, headers=headers).status_code == 202
    wait_for(lambda: stored_with(b, "sent through a"), timeout=30, what="the send at b")


def check_submission_refused(a: MairustServer, b: MairustServer) -> None:
    """SMTP AUTH at a for an account of b's tenant: refused, naming where to submit."""
    with smtplib.SMTP("127.0.0.1", a.submission_port, "client.test", timeout=30) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(USER, KIM_PASSWORD)
    assert refused.value.smtp_code == 535
    assert reply_text(refused.value) == (
        f"5.7.0 Accounts of {DOMAIN} are not kept in this region: "
        f"submit in its home region b at 127.0.0.1:{b.submission_port}"
    )


def reply_text(error: smtplib.SMTPResponseException) -> str:
    """The reply's text after the code (smtplib keeps the server's bytes)."""
    text = error.smtp_error
    return text.decode() if isinstance(text, bytes) else text
