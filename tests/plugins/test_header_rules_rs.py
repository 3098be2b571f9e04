"""header-rules-rs, the Rust plugin, as the platform runs it: its binary (built by the
project's build script) a child on the stdin transport, given requests built for its
manifest's scopes (header fields only). A rejecting rule answers its reply, tagging rules
tag, the rest goes on; a configuration it cannot compile is an error answer; calls in
flight at once are each answered. Its own unit tests run under `cargo test`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mairust.hooks.chain import Binding
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import load_manifest
from mairust.hooks.payload import build_request
from mairust.hooks.points import HookPoint
from mairust.hooks.stdin_transport import StdinPlugin, command_of
from mairust.hooks.wire import HookResponse
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.services.plugins import config_faults
from tests.support.stdin_plugins import HEADER_RULES_RS, header_rules_rs_package

MANIFEST = load_manifest(HEADER_RULES_RS)
BINDING = Binding("header-rules-rs", HookPoint.PRE_RECEIVE, scopes=frozenset(MANIFEST.scopes))
ENVELOPE = Envelope(
    mail_from="deals@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
MESSAGE = (
    b"From: Deals <deals@remote.example>\r\nSubject: Cheap PILLS today\r\n"
    b"X-Mailer: BulkBlaster 3\r\n\r\nthe body says pills too\r\n"
)
REJECT_PILLS = {"header": "Subject", "pattern": r"\bpills\b", "action": "reject"}
TAG_BULK = {"header": "x-mailer", "pattern": "^bulk", "action": "tag", "tag": "bulk"}


@pytest.fixture
async def rules(tmp_path: Path):
    """The plugin's child, from an installable package; ``rules.config`` is what it gets."""
    package = header_rules_rs_package(tmp_path)
    config: dict[str, Any] = {"rules": []}
    command = command_of(MANIFEST.transport.entrypoint, package)
    plugin = StdinPlugin("header-rules-rs", command, package, lambda: config)

    async def ask(*rules: dict[str, Any], message: bytes = MESSAGE) -> HookResponse:
        config["rules"] = list(rules)
        assert config_faults(MANIFEST, config) == []  # what its schema accepts
        request = build_request(BINDING.point, BINDING.scopes, ENVELOPE, message)
        return await plugin(BINDING, request)

    yield ask
    await plugin.aclose()


async def test_a_rejecting_rule_that_matches_rejects_with_its_reply(rules) -> None:
    answer = await rules(TAG_BULK, {**REJECT_PILLS, "reply": "550 5.7.1 No pills here"})
    assert (answer.verdict, answer.reply) == (VerdictKind.REJECT, "550 5.7.1 No pills here")
    assert "subject" in answer.reason
    assert (await rules(REJECT_PILLS)).reply is None  # the platform's reply then


async def test_tagging_rules_tag_and_the_rest_goes_on(rules) -> None:
    second = {"header": "From", "pattern": "deals@", "action": "tag", "tag": "deals"}
    answer = await rules(TAG_BULK, second)
    assert (answer.verdict, answer.tags) == (VerdictKind.CONTINUE, ["bulk", "deals"])
    quiet = await rules({"header": "Subject", "pattern": "invoice", "action": "reject"})
    assert (quiet.verdict, quiet.tags) == (VerdictKind.CONTINUE, [])
    assert (await rules()).verdict is VerdictKind.CONTINUE  # no rules configured


async def test_it_sees_the_header_fields_only(rules) -> None:
    # The body says "pills" too; the rule is on a field the message does not have.
    body_rule = {"header": "Body", "pattern": "pills", "action": "reject"}
    assert (await rules(body_rule)).verdict is VerdictKind.CONTINUE


async def test_a_pattern_it_cannot_compile_is_an_error_answer(rules) -> None:
    with pytest.raises(PluginFailed, match=r"answered an error: rules\[0\]\.pattern"):
        await rules({"header": "Subject", "pattern": "(?<=look)behind", "action": "tag"})


async def test_calls_in_flight_together_are_each_answered(rules, tmp_path: Path) -> None:
    subjects = [f"number {n}" for n in range(50)] + ["cheap pills"] * 5
    config = {"header": "Subject", "pattern": "pills", "action": "reject"}
    await rules(config)  # started, configured
    answers = await asyncio.gather(
        *(rules(config, message=f"Subject: {s}\r\n\r\nx\r\n".encode()) for s in subjects)
    )
    verdicts = [a.verdict for a in answers]
    assert verdicts == [VerdictKind.CONTINUE] * 50 + [VerdictKind.REJECT] * 5
