"""A plugin's answer is read through its permissions: what lies outside them is dropped
and said, never applied."""

from __future__ import annotations

from mairust.hooks.permissions import HookPermission, granted_at, verdict_of
from mairust.hooks.points import HookPoint
from mairust.hooks.wire import EnvelopeEdit, HeaderEdit, HookResponse
from mairust.model.annotations import Annotations
from mairust.model.modifications import AddHeader, AddRecipient, DeleteHeader
from mairust.model.verdict import VerdictKind

ANSWER = HookResponse(
    verdict=VerdictKind.REJECT,
    reason="spam",
    reply="554 5.7.1 Spam",
    tags=["spam"],
    folder="Junk",
    headers=[HeaderEdit(action="add", name="X-Spam", value="yes")],
    envelope=[EnvelopeEdit(action="add_recipient", address="Audit@Example.test")],
)


def test_a_tagger_may_tag_but_not_reject() -> None:
    judged = verdict_of(ANSWER, "tagger", {HookPermission.TAG})
    verdict = judged.verdict
    assert verdict.kind is VerdictKind.CONTINUE and verdict.reply is None
    assert verdict.annotations == Annotations(tags=("spam",))
    assert verdict.modifications == ()
    assert verdict.source == "tagger"
    assert judged.dropped == (
        "verdict reject (no reject permission)",
        "folder (no folder permission)",
        "header edits (no headers permission)",
        "envelope edits (no envelope permission)",
    )


def test_everything_permitted_is_kept() -> None:
    judged = verdict_of(ANSWER, "filter", set(HookPermission))
    verdict = judged.verdict
    assert judged.dropped == ()
    assert (verdict.kind, verdict.reason, verdict.reply) == (
        VerdictKind.REJECT,
        "spam",
        "554 5.7.1 Spam",
    )
    assert verdict.annotations == Annotations(folder="Junk", tags=("spam",))
    assert verdict.modifications == (AddHeader("X-Spam", "yes"), AddRecipient("audit@example.test"))


def test_malformed_edits_are_dropped_one_by_one() -> None:
    answer = HookResponse(
        headers=[
            HeaderEdit(action="add", name="X-Bad", value="a\r\nBcc: victim@example.test"),
            HeaderEdit(action="change", name="X-Needs-Value"),
            HeaderEdit(action="delete", name="X-Old"),
        ],
        envelope=[EnvelopeEdit(action="add_recipient", address="not an address")],
    )
    judged = verdict_of(answer, "p", {HookPermission.HEADERS, HookPermission.ENVELOPE})
    assert judged.verdict.modifications == (DeleteHeader("X-Old"),)
    assert len(judged.dropped) == 3
    assert judged.verdict.kind is VerdictKind.CONTINUE  # continue needs no permission


def test_pre_delivery_takes_header_and_envelope_edits_away() -> None:
    everything = set(HookPermission)
    at_delivery = granted_at(HookPoint.PRE_DELIVERY, everything)
    assert at_delivery == everything - {HookPermission.HEADERS, HookPermission.ENVELOPE}
    assert granted_at(HookPoint.PRE_RECEIVE, everything) == everything
    judged = verdict_of(ANSWER, "editor", at_delivery)
    assert judged.verdict.kind is VerdictKind.REJECT
    assert judged.verdict.modifications == ()
    assert judged.dropped == (
        "header edits (no headers permission)",
        "envelope edits (no envelope permission)",
    )


def test_notes_need_the_annotate_permission() -> None:
    answer = HookResponse(notes={"summary": "the gist", "language": "fr"})
    kept = verdict_of(answer, "noter", {HookPermission.ANNOTATE})
    assert kept.notes == (("language", "fr"), ("summary", "the gist"))
    assert kept.dropped == ()
    refused = verdict_of(answer, "tagger", {HookPermission.TAG})
    assert refused.notes == ()
    assert refused.dropped == ("notes (no annotate permission)",)
