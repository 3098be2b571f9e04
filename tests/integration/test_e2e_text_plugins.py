"""Scenario: the four bundled text plugins on a running `mairust up`, installed from the
repository's folders with the `mairust plugin` CLI (each its own Ray Serve application,
deployed by the running platform). A French invoice sent over SMTP ends, after its
post_receive jobs, with the classifier's ``category:invoice`` and the language plugin's
``lang:fr`` tags, and the message API shows the three plugins' notes (the summary among
them). dlp at pre_send: a message sent through the send API with a valid card number is
refused with a reply naming what it carries (and not the number); one whose number fails
the Luhn check is sent. Embedded stores: the plugins do not depend on the store backends."""

from __future__ import annotations

import re
import smtplib
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ("classifier", "summarizer", "language", "dlp")
# Jobs that meet a plugin still deploying are retried within a few seconds.
CONFIG = """
[hooks]
bindings_cache_seconds = 0.5
deadline_seconds = 10.0
job_poll_interval = 0.5
job_retry_base_seconds = 1.0
job_retry_max_seconds = 4.0
job_max_attempts = 60
"""
ALICE = "alice@example.test"
BOB = "bob@example.test"
INVOICE = (
    "Bonjour Alice,\r\n\r\n"
    "Veuillez trouver ci-joint la facture 2026-114 pour la maintenance du mois de mars. "
    "Le montant de 1 250,00 EUR TTC est payable par virement sous 30 jours. "
    "La facture reprend les interventions du 4 et du 18 mars.\r\n\r\n"
    "Cordialement,\r\nLuc\r\n"
)
CARD = "4111 1111 1111 1111"  # a published test Visa number: the Luhn check passes
NOT_A_CARD = "4111 1111 1111 1112"


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    out: str = result.stdout
    return out


def smtp_send(server: Any, subject: str, body: str) -> str:
    data = (
        f"From: Luc <luc@remote.example>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        f"\r\n{body}"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("luc@remote.example")
        smtp.rcpt(ALICE)
        code, reply = smtp.data(data)
    assert code == 250, reply
    queued = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply.decode())
    assert queued
    return queued.group(1)


def api_send(server: Any, text: str) -> httpx.Response:
    body = {"from": {"address": ALICE}, "to": [BOB], "subject": "payment", "text": text}
    with server.api() as api:
        return api.post("/api/v1/send", json=body)


def test_the_text_plugins_tag_annotate_and_refuse(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user(ALICE)
    server.add_user(BOB)
    for name in PLUGINS:
        assert f"installed {name} 1.0.0" in ok(
            server.cli("plugin", "install", str(ROOT / "plugins" / name))
        )
    listed = ok(server.cli("hook", "list"))
    assert all(name in listed for name in PLUGINS), listed

    # post_receive: the jobs run once the three applications answer (retried until then).
    queue_id = smtp_send(server, "Facture 2026-114 : maintenance de mars", INVOICE)

    def annotated() -> dict[str, Any] | None:
        with server.api() as api:
            items = api.get("/api/v1/messages", params={"mailbox": ALICE}).json()["items"]
            [entry] = [m for m in items if m["message_id"] == queue_id] or [None]
            if entry is None:
                return None
            detail: dict[str, Any] = api.get(f"/api/v1/messages/{entry['id']}").json()
        return detail if len(detail["notes"]) == 3 else None

    try:
        detail = wait_until(annotated, timeout=240, interval=1.0, what="the three plugins' notes")
    except AssertionError:
        raise AssertionError("".join(server.output[-80:])) from None
    assert {"category:invoice", "lang:fr"} <= set(detail["tags"]), detail["tags"]
    notes = detail["notes"]
    assert notes["classifier"]["category"] == "invoice"
    assert notes["language"]["language"] == "fr"
    summary = notes["summarizer"]["summary"]
    assert summary.startswith("Veuillez trouver ci-joint la facture 2026-114"), summary
    assert "Cordialement" not in summary and "Bonjour" not in summary

    # pre_send: until dlp answers, its on_error (tempfail) makes the send API answer 503.
    def refused() -> httpx.Response | None:
        answer = api_send(server, f"Ma carte : {CARD}, expiration 12/29.")
        return answer if answer.status_code != 503 else None

    answer = wait_until(refused, timeout=180, interval=1.0, what="dlp deployed and deciding")
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail_text = answer.json()["detail"]
    assert "refused by dlp" in detail_text and "it carries a payment card number" in detail_text
    assert "1111" not in answer.text
    passed = api_send(server, f"Commande {NOT_A_CARD} (pas une carte).")
    assert passed.status_code == 202, passed.text
    server.stop()
