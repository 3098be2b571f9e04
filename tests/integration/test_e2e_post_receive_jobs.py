"""Scenario: a real loopback http plugin bound at post_receive on a running `mairust up`
(embedded, and on PostgreSQL + S3 + OpenSearch) tags mail after the 250 as a durable job:
mail sent over SMTP shows the tag through the API. A plugin that answers "pending" gets
its verdict in with the job's token on POST /api/v1/callbacks/{job}, once: the replay is
refused. And (embedded) jobs pending at a kill -9 of the whole server run once after the
restart: each message tagged once, the plugin answering each once."""

from __future__ import annotations

import smtplib
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.hook_plugin_service import JOB_TAG, job_plugin

HOOKS = """
[hooks]
allow_networks = ["127.0.0.1/32"]
job_poll_interval = 0.2
job_retry_base_seconds = 0.5
job_retry_max_seconds = 1.0
job_max_attempts = 100
"""


def send(server, subject: str) -> None:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhello\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.sendmail("x@remote.example", ["alice@example.test"], data)


def messages(server) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def with_subject(server, subject: str) -> dict[str, Any] | None:
    return next((m for m in messages(server) if m["subject"] == subject), None)


def install(server, plugin, base: Path) -> None:
    with server.api() as api:
        installed = api.post("/api/v1/admin/plugins", json={"path": str(plugin.package(base))})
        assert installed.status_code == 201, installed.text


def test_a_post_receive_plugin_tags_mail_and_answers_later_by_callback(
    new_server, server_config, tmp_path: Path, wait_until
):
    with job_plugin() as plugin:
        server = new_server(config=server_config(HOOKS))
        server.start()
        server.add_user("alice@example.test")
        install(server, plugin, tmp_path)

        send(server, "quarterly numbers")
        tagged = wait_until(
            lambda: (m := with_subject(server, "quarterly numbers")) and JOB_TAG in m["tags"] and m,
            timeout=60,
            what="the plugin's tag on the delivered message",
        )
        [request] = [r for r in plugin.requests if r["message_id"] == tagged["message_id"]]
        assert request["point"] == "post_receive"
        assert request["scopes"] == ["envelope", "headers"] and request["body_base64"] is None

        send(server, "answer later")
        waiting = wait_until(
            lambda: next(
                (r for r in plugin.requests if ["Subject", "answer later"] in r["headers"]),
                None,
            ),
            timeout=60,
            what="the pending call",
        )
        entry = wait_until(lambda: with_subject(server, "answer later"), what="the entry")
        assert entry["tags"] == []
        url = urlsplit(waiting["callback_url"])
        assert (url.hostname, url.port) == ("127.0.0.1", server.api_port)
        token = {"MaiRust-Callback-Token": waiting["callback_token"]}
        verdict = {"verdict": "continue", "tags": ["reviewed-later"]}
        # No bearer token: the job's token is the credential.
        with httpx.Client(base_url=f"http://127.0.0.1:{server.api_port}", timeout=30) as api:
            answered = api.post(url.path, json=verdict, headers=token)
            assert answered.status_code == 200, answered.text
            assert answered.json()["state"] == "done"
            replayed = api.post(url.path, json=verdict, headers=token)
            assert replayed.status_code == 409, replayed.text
            assert replayed.headers["content-type"].startswith("application/problem+json")
        applied = with_subject(server, "answer later")
        assert applied is not None and applied["tags"] == ["reviewed-later"]

        # The plugin's log has the answer, the pending call and the callback (the loop's
        # calls are recorded in batches: within a second or so).
        def log() -> Counter[str] | None:
            with server.api() as api:
                calls = api.get("/api/v1/admin/plugins/post-tagger/calls").json()["items"]
            outcomes = Counter(call["outcome"] for call in calls)
            return outcomes if {"answered", "pending", "callback"} <= set(outcomes) else None

        outcomes = wait_until(log, timeout=30, what="the calls in the plugin's log")
        assert outcomes == Counter({"answered": 1, "pending": 1, "callback": 1})


def test_jobs_pending_at_a_kill_9_run_once_after_the_restart(
    new_server, tmp_path: Path, wait_until
):
    subjects = [f"note {n}" for n in range(4)]
    with job_plugin() as plugin:
        plugin.down = True  # every job waits for its retry at the kill
        config = tmp_path / "mairust.toml"
        config.write_text(HOOKS)
        server = new_server(config=config)
        server.start()
        server.add_user("alice@example.test")
        install(server, plugin, tmp_path)
        for subject in subjects:
            send(server, subject)
        wait_until(
            lambda: (
                {h[1] for r in plugin.requests for h in r["headers"] if h[0] == "Subject"}
                >= set(subjects)
            ),
            timeout=60,
            what="a (failed) call of every message's job",
        )
        server.kill9()

        plugin.down = False
        server.start()
        wait_until(
            lambda: all(
                (m := with_subject(server, s)) is not None and JOB_TAG in m["tags"]
                for s in subjects
            ),
            timeout=90,
            what="every message tagged after the restart",
        )
        tagged = [with_subject(server, s) for s in subjects]
        assert all(m is not None and m["tags"] == [JOB_TAG] for m in tagged)
        # Each job answered once: nothing is left to run, and nothing runs again.
        counts = Counter(plugin.answered)
        assert sorted(counts) == sorted(m["message_id"] for m in tagged if m is not None)
        assert set(counts.values()) == {1}
        calls_now = len(plugin.requests)
        time.sleep(2)  # ten poll intervals: no job is called again
        assert len(plugin.requests) == calls_now
