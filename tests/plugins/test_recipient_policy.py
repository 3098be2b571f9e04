"""The recipient-policy plugin: through the SDK's test helper (envelope only, at RCPT TO),
and as the HTTP service ``python -m plugins.recipient_policy`` on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mairust.plugin_sdk import (
    DataScope,
    EnvelopeView,
    HookPoint,
    HookRequest,
    HookResponse,
    VerdictKind,
    run_plugin,
)
from mairust.plugin_sdk.testing import test_envelope
from plugins.recipient_policy.plugin import DEFAULT_REPLY, plugin
from tests.support.mairust_server import free_port

HERE = Path(__file__).resolve().parents[2] / "plugins" / "recipient_policy"
ROOT = HERE.parents[1]
CONFIG = {"refuse": r"^(noreply|postmaster-old)@", "reply": "550 5.1.1 Gone"}


def ask(recipient: str, config: dict[str, str] = CONFIG) -> HookResponse:
    envelope = test_envelope([recipient])
    return run_plugin(plugin, "rcpt_to", envelope=envelope, manifest=HERE, config=config)


def test_a_matching_recipient_is_refused_with_the_reply() -> None:
    answer = ask("NoReply@example.test")
    assert (answer.verdict, answer.reply) == (VerdictKind.REJECT, "550 5.1.1 Gone")
    assert "noreply@example.test" in answer.reason.lower()
    assert ask("alice@example.test").verdict is VerdictKind.CONTINUE


def test_the_default_reply_and_no_pattern() -> None:
    assert ask("noreply@example.test", {"refuse": "^noreply@"}).reply == DEFAULT_REPLY
    assert ask("noreply@example.test", {}).verdict is VerdictKind.CONTINUE


@pytest.fixture
def service() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "plugins.recipient_policy", "--port", str(port)]
    command += ["--refuse", CONFIG["refuse"], "--reply", CONFIG["reply"]]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/hook"
    try:
        ends = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, content=b"")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < ends, "the plugin service did not listen in 30 s"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_http_service_answers_hook_requests(service: str) -> None:
    def answer(recipient: str) -> HookResponse:
        envelope = EnvelopeView(client_ip="192.0.2.1", helo="h", mail_from="", rcpt_tos=[recipient])
        request = HookRequest(
            point=HookPoint.RCPT_TO, scopes=[DataScope.ENVELOPE], envelope=envelope
        )
        reply = httpx.post(service, content=request.model_dump_json(), timeout=10)
        assert reply.status_code == 200, reply.text
        return HookResponse.model_validate_json(reply.content)

    refused = answer("noreply@example.test")
    assert (refused.verdict, refused.reply) == (VerdictKind.REJECT, "550 5.1.1 Gone")
    assert answer("bob@example.test").verdict is VerdictKind.CONTINUE


def test_the_command_line_refuses_a_bad_pattern_or_reply() -> None:
    command = [sys.executable, "-m", "plugins.recipient_policy", "--port", "1"]
    bad_pattern = subprocess.run(
        [*command, "--refuse", "("], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert bad_pattern.returncode == 2 and "no regular expression" in bad_pattern.stderr
    bad_reply = subprocess.run(
        [*command, "--refuse", "x", "--reply", "250 ok"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad_reply.returncode == 2 and "5xx reply" in bad_reply.stderr
