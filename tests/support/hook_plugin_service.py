"""A real http hook plugin on 127.0.0.1 for tests: it reads each ``HookRequest`` and answers a
``HookResponse`` by a rule — reject mail whose Subject says "spam" (with a reply of its own),
quarantine "quarantine me" at pre_receive, reject "refuse me" at pre_delivery, tag the
rest — and keeps every request it was sent, so a test can see what it was given; and a
post_receive plugin (``job_plugin``) that tags later, answers "pending" or is down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SPAM_REPLY = "554 5.7.1 Rejected by the spam rule"
_MANIFEST = """
scopes = ["envelope", "headers"]
permissions = [{permissions}]

[plugin]
name = "{name}"
version = "1.0.0"
description = "Refuses mail whose Subject says spam."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "{url}"
{hooks}
[timeouts]
call_ms = 2000
on_error = "tempfail"
"""
_HOOK = """
[[hooks]]
point = "{point}"
priority = 10
"""


@dataclass
class RulePlugin:
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def package(
        self,
        base: Path,
        *,
        name: str = "spam-rule",
        points: tuple[str, ...] = ("pre_receive",),
        permissions: tuple[str, ...] = ("reject", "tag", "headers"),
    ) -> Path:
        """A directory holding this plugin's plugin.toml (by default named ``spam-rule``,
        at pre_receive, scopes envelope and headers), ready to install."""
        directory = base / name
        directory.mkdir(parents=True, exist_ok=True)
        manifest = _MANIFEST.format(
            url=self.url(),
            name=name,
            permissions=", ".join(f'"{p}"' for p in permissions),
            hooks="".join(_HOOK.format(point=point) for point in points),
        )
        (directory / "plugin.toml").write_text(manifest)
        return directory


def decide(request: dict[str, Any]) -> dict[str, Any]:
    subject = next(
        (value for name, value in request.get("headers") or [] if name.lower() == "subject"), ""
    )
    if "spam" in subject.lower():
        return {"verdict": "reject", "reason": "spam subject", "reply": SPAM_REPLY}
    # Two rules for the quarantine scenario (each needs its permission in the manifest):
    # hold at pre_receive, refuse one recipient's copy at pre_delivery.
    if "quarantine me" in subject.lower() and request.get("point") == "pre_receive":
        return {"verdict": "quarantine", "reason": "held by the rule"}
    if "refuse me" in subject.lower() and request.get("point") == "pre_delivery":
        return {"verdict": "reject", "reason": "refused at delivery"}
    return {
        "verdict": "continue",
        "tags": ["rule-checked"],
        "headers": [{"action": "add", "name": "X-Rule-Plugin", "value": "checked"}],
    }


@contextmanager
def rule_plugin() -> Iterator[RulePlugin]:
    plugin = RulePlugin()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length))
            plugin.requests.append(request)
            body = json.dumps(decide(request)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    plugin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="rule-plugin", daemon=True)
    thread.start()
    try:
        yield plugin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


_JOB_MANIFEST = """
scopes = ["envelope", "headers"]
permissions = ["tag", "quarantine"]

[plugin]
name = "post-tagger"
version = "1.0.0"
description = "Tags mail after the 250; answers later when the Subject says so."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "{url}"

[[hooks]]
point = "post_receive"

[timeouts]
call_ms = 2000
"""

JOB_TAG = "post-checked"


@dataclass
class JobPlugin:
    """A post_receive plugin: tags mail ``post-checked``; answers ``pending`` to mail whose
    Subject says "later"; answers 503 to everything while ``down``. Keeps every request,
    and the message ids it answered with a verdict (``answered``)."""

    port: int = 0
    down: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def package(self, base: Path) -> Path:
        directory = base / "post-tagger"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "plugin.toml").write_text(_JOB_MANIFEST.format(url=self.url()))
        return directory

    def answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.down:
            return 503, {}
        subject = next((v for n, v in request.get("headers") or [] if n.lower() == "subject"), "")
        if "later" in subject.lower():
            return 200, {"pending": True}
        self.answered.append(str(request.get("message_id")))
        return 200, {"verdict": "continue", "tags": [JOB_TAG]}


@contextmanager
def job_plugin() -> Iterator[JobPlugin]:
    plugin = JobPlugin()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length))
            plugin.requests.append(request)
            status, answer = plugin.answer(request)
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    plugin.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="job-plugin", daemon=True)
    thread.start()
    try:
        yield plugin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
