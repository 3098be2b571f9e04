"""Scenario: a ``serve`` plugin (written with the SDK, deployed by the running `mairust up`
from the package the CLI kept) at the two hook points after the 250: at ``pre_delivery``
in the pipeline it quarantines mail whose Subject asks to be held, and as a ``post_receive``
job it tags every delivered message later. Over real SMTP, on the embedded stores (the
store backends are test_e2e_quarantine's and test_e2e_post_receive_jobs' to cover)."""

from __future__ import annotations

import re
import smtplib
from pathlib import Path
from typing import Any

ALICE = "alice@example.test"
CONFIG = """
[hooks]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
job_poll_interval = 0.5
"""
MANIFEST = """
scopes = ["envelope", "headers"]
permissions = ["quarantine", "tag"]

[plugin]
name = "later-rules"
version = "1.0.0"
description = "Holds mail asking to be held; tags everything afterwards."
author = "tests"
license = "MIT"

[transport]
kind = "serve"
entrypoint = "rules:plugin"

[[hooks]]
point = "pre_delivery"

[[hooks]]
point = "post_receive"

[timeouts]
call_ms = 3000

[resources]
num_cpus = 0
"""
PLUGIN = """
from mairust.plugin_sdk import Plugin, proceed, quarantine, tag

plugin = Plugin("later-rules")


def subject(request):
    return next((v for n, v in request.headers or [] if n.lower() == "subject"), "")


@plugin.pre_delivery
def hold(request, config):
    return quarantine("asked to be held") if "hold me" in subject(request) else proceed()


@plugin.post_receive
def later(request, config):
    return tag("later-checked")
"""


def queued(server: Any, subject: str) -> str:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        smtp.rcpt(ALICE)
        code, reply = smtp.data(data)
    assert code == 250, reply
    found = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply.decode())
    assert found
    return found.group(1)


def listed(server: Any, path: str, **params: str) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_serve_plugin_holds_at_pre_delivery_and_tags_as_a_post_receive_job(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user(ALICE)
    package = tmp_path / "later-rules"
    package.mkdir()
    (package / "plugin.toml").write_text(MANIFEST)
    (package / "rules.py").write_text(PLUGIN)
    installed = server.cli("plugin", "install", str(package))
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # Deployed within seconds of the install: until then, calls fail and stand for the
    # manifest's on_error (accept), so mail keeps flowing; send until one is held.
    subjects: list[str] = []

    def one_held() -> bool:
        subjects.append(f"please hold me {len(subjects)}")
        queue_id = queued(server, subjects[-1])
        return bool(
            wait_until(
                lambda: [
                    m
                    for m in listed(server, "/api/v1/quarantine", mailbox=ALICE)
                    + listed(server, "/api/v1/messages", mailbox=ALICE)
                    if m["message_id"] == queue_id
                ],
                what="the message stored",
            )[0]["folder"]
            == "Quarantine"
        )

    wait_until(one_held, timeout=120, interval=1.0, what="later-rules deployed and holding")
    ordinary = queued(server, "quarterly numbers")

    def tagged() -> dict[str, Any] | None:
        found = [m for m in listed(server, "/api/v1/messages", mailbox=ALICE)]
        return next(
            (m for m in found if m["message_id"] == ordinary and "later-checked" in m["tags"]),
            None,
        )

    message = wait_until(tagged, timeout=60, interval=0.5, what="the post_receive tag")
    assert message["folder"] == "INBOX"
    inbox_ids = {m["message_id"] for m in listed(server, "/api/v1/messages", mailbox=ALICE)}
    held = listed(server, "/api/v1/quarantine", mailbox=ALICE)
    assert held and all(m["message_id"] not in inbox_ids for m in held)

    def recorded() -> dict[str, Any] | None:  # calls are recorded in batches of <= 1 s
        with server.api() as api:
            figures = api.get("/api/v1/admin/plugins/later-rules/figures").json()
        points = {p["point"]: p for p in figures["points"]}
        held_there = points.get("pre_delivery", {}).get("by_verdict", {}).get("quarantine", 0)
        answered = points.get("post_receive", {}).get("by_outcome", {}).get("answered", 0)
        return points if held_there >= 1 and answered >= 1 else None

    try:
        wait_until(recorded, timeout=20, interval=0.5, what="the calls recorded")
    except AssertionError:
        raise AssertionError("".join(server.output[-60:])) from None
    server.stop()
