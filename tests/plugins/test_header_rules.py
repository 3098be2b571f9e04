"""The header-rules plugin through the SDK's test helper: given the header fields only (its
manifest's scope), it rejects on a rejecting rule's match with the rule's reply, tags on
tagging matches, and says nothing otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mairust.plugin_sdk import HookResponse, VerdictKind, run_plugin
from plugins.header_rules.plugin import plugin

HERE = Path(__file__).resolve().parents[2] / "plugins" / "header_rules"
MESSAGE = (
    b"From: Deals <deals@remote.example>\r\nSubject: Cheap PILLS today\r\n"
    b"X-Mailer: BulkBlaster 3\r\n\r\nthe body says pills too\r\n"
)
REJECT_PILLS = {"header": "Subject", "pattern": r"\bpills\b", "action": "reject"}
TAG_BULK = {"header": "x-mailer", "pattern": "^bulk", "action": "tag", "tag": "bulk"}


def run(*rules: dict[str, Any], message: bytes = MESSAGE) -> HookResponse:
    return run_plugin(plugin, "pre_receive", message, manifest=HERE, config={"rules": list(rules)})


def test_a_rejecting_rule_that_matches_rejects_with_its_reply() -> None:
    answer = run(TAG_BULK, {**REJECT_PILLS, "reply": "550 5.7.1 No pills here"})
    assert (answer.verdict, answer.reply) == (VerdictKind.REJECT, "550 5.7.1 No pills here")
    assert "subject" in answer.reason
    # Without a reply of its own, the platform's reject reply is used.
    assert run(REJECT_PILLS).reply is None


def test_tagging_rules_tag_and_the_rest_goes_on() -> None:
    second = {"header": "From", "pattern": "deals@", "action": "tag", "tag": "deals"}
    answer = run(TAG_BULK, second)
    assert (answer.verdict, answer.tags) == (VerdictKind.CONTINUE, ["bulk", "deals"])
    quiet = run({"header": "Subject", "pattern": "invoice", "action": "reject"})
    assert (quiet.verdict, quiet.tags) == (VerdictKind.CONTINUE, [])
    assert run().verdict is VerdictKind.CONTINUE  # no rules configured


def test_the_body_is_never_looked_at() -> None:
    """Its scope is the headers: a rule on a word only the body holds never matches."""
    body_only = b"Subject: hello\r\n\r\nbuy pills\r\n"
    answer = run({"header": "Subject", "pattern": "pills", "action": "reject"}, message=body_only)
    assert answer.verdict is VerdictKind.CONTINUE
