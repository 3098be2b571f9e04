"""Scenario: the pre_receive deadline over real SMTP on a running `mairust up` (embedded).

Two http plugins are bound at pre_receive under a 1.5 s deadline: one answers at once with
a tag, the other does not answer for 10 s. The SMTP reply comes within the budget; the slow
one stands for its manifest's ``on_timeout`` (``accept``: the mail is delivered, with the
fast one's tag; ``tempfail`` on a second slow plugin: 451 and nothing stored), the fast one
is unaffected, and the plugins' figures say which timed out."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

from tests.support.http_sink import Reply, http_sink

DEADLINE = 1.5
# What may come on top of the deadline before the 250/451: the spool commit, the thread
# hops, a loaded 2-core machine.
MARGIN = 3.0
CONFIG = f"""
[hooks]
allow_networks = ["127.0.0.1/32"]
bindings_cache_seconds = 0.5
deadline_seconds = {DEADLINE}
"""
MANIFEST = """
scopes = ["envelope", "headers"]
permissions = ["tag", "reject", "tempfail"]

[plugin]
name = "{name}"
version = "1.0.0"
description = "deadline scenario"
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "{url}"

[[hooks]]
point = "pre_receive"
priority = {priority}

[timeouts]
call_ms = 10000
on_timeout = "{on_timeout}"
on_error = "accept"
"""
TAGGED = b'{"verdict": "continue", "tags": ["fast-checked"]}'


def package(base: Path, name: str, url: str, priority: int, on_timeout: str) -> str:
    directory = base / name
    directory.mkdir()
    (directory / "plugin.toml").write_text(
        MANIFEST.format(name=name, url=url, priority=priority, on_timeout=on_timeout)
    )
    return str(directory)


def timed_send(server, subject: str) -> tuple[int, str, float]:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        smtp.rcpt("alice@example.test")
        started = time.monotonic()
        code, reply = smtp.data(data)
    return code, reply.decode(), time.monotonic() - started


def delivered_subjects(server) -> dict[str, list[str]]:
    with server.api() as api:
        items = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"}).json()
    return {item["subject"]: item["tags"] for item in items["items"]}


def test_a_slow_plugin_gets_its_on_timeout_verdict_within_the_budget(
    new_server, tmp_path: Path, wait_until
):
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")
    with (
        http_sink(default=Reply(200, TAGGED)) as fast,
        http_sink(default=Reply(200, b'{"verdict": "continue"}', delay=10.0)) as slow,
    ):
        with server.api() as api:
            for name, url, priority, on_timeout in (
                ("fast", fast.url(), 10, "tempfail"),
                ("slow", slow.url(), 20, "accept"),
            ):
                made = api.post(
                    "/api/v1/admin/plugins",
                    json={"path": package(tmp_path, name, url, priority, on_timeout)},
                )
                assert made.status_code == 201, made.text

        def bound() -> bool:  # the front-end reads bindings every 0.5 s
            timed_send(server, "warm-up")
            return len(slow.requests) > 0

        wait_until(bound, timeout=30, interval=0.5, what="the plugins bound")
        code, reply, took = timed_send(server, "slow accept")
        assert code == 250, reply
        assert took < DEADLINE + MARGIN, f"the 250 took {took:.1f} s"
        assert took >= DEADLINE * 0.9, "the slow plugin was waited for, up to the deadline"
        tags = wait_until(lambda: delivered_subjects(server).get("slow accept"))
        assert "fast-checked" in tags

        with server.api() as api:
            strict = package(tmp_path, "slow-strict", slow.url(), 30, "tempfail")
            assert api.post("/api/v1/admin/plugins", json={"path": strict}).status_code == 201

        attempts: list[str] = []

        def refused() -> tuple[int, str, float] | None:
            attempts.append(f"slow tempfail {len(attempts)}")
            sent = timed_send(server, attempts[-1])
            return sent if sent[0] != 250 else None

        code, reply, took = wait_until(refused, timeout=30, interval=0.5, what="a 451")
        assert (code, reply[:5]) == (451, "4.7.1"), reply
        assert took < DEADLINE + MARGIN, f"the 451 took {took:.1f} s"
        assert attempts[-1] not in delivered_subjects(server)

        def figures(name: str) -> dict[str, int]:
            with server.api() as api:
                found = api.get(f"/api/v1/admin/plugins/{name}/figures").json()
            return {p["mode"]: p["by_outcome"] for p in found["points"]}.get("enforce", {})

        wait_until(lambda: figures("slow-strict") == {"timeout": 1}, what="the strict timeout")
        assert figures("slow").get("timeout", 0) >= 2 and "answered" not in figures("slow")
        assert figures("fast").get("timeout", 0) == 0 and figures("fast")["answered"] >= 2
    server.stop()
