"""The verdict model: the most severe verdict wins (the first of equals), a verdict's own
reply counts only within its kind's class, and what takes the message keeps every
annotation and modification."""

from __future__ import annotations

import pytest

from mairust.model.annotations import Annotations
from mairust.model.modifications import AddHeader
from mairust.model.verdict import CONTINUE, Source, Verdict, VerdictKind, most_severe


def test_the_most_severe_verdict_wins_and_the_first_of_equals() -> None:
    first = Verdict(VerdictKind.REJECT, "plugin-a")
    second = Verdict(VerdictKind.REJECT, "plugin-b")
    listed = [Verdict(VerdictKind.ACCEPT), first, Verdict(VerdictKind.TEMPFAIL), second]
    assert most_severe(listed) is first
    assert most_severe([]) == CONTINUE
    assert most_severe([CONTINUE, Verdict(VerdictKind.DISCARD, "x")]).kind is VerdictKind.DISCARD
    order = [most_severe([Verdict(k), Verdict(VerdictKind.CONTINUE)]).kind for k in VerdictKind]
    assert order == list(VerdictKind)


def test_what_takes_the_message_keeps_every_annotation_and_modification() -> None:
    tagger = Verdict(
        VerdictKind.CONTINUE,
        "tagger",
        annotations=Annotations(folder="Newsletters", tags=("news",)),
        modifications=(AddHeader("X-Tagged", "yes"),),
    )
    quarantine = Verdict(
        VerdictKind.QUARANTINE,
        Source.DMARC,
        "failed",
        annotations=Annotations(folder="Junk", tags=("dmarc-quarantine",)),
    )
    won = most_severe([quarantine, tagger])
    assert won.kind is VerdictKind.QUARANTINE and won.source == Source.DMARC
    # The winner's folder, everyone's tags and modifications.
    assert won.annotations == Annotations(folder="Junk", tags=("dmarc-quarantine", "news"))
    assert won.modifications == (AddHeader("X-Tagged", "yes"),)
    refused = most_severe([tagger, Verdict(VerdictKind.REJECT, "policy")])
    assert refused.annotations == Annotations() and refused.modifications == ()


@pytest.mark.parametrize(
    ("kind", "reply", "kept"),
    [
        (VerdictKind.REJECT, "554 5.7.1 No thanks", True),
        (VerdictKind.REJECT, "451 4.7.1 Later", False),  # a reject answers 5xx
        (VerdictKind.TEMPFAIL, "451 4.7.1 Later", True),
        (VerdictKind.TEMPFAIL, "550 5.7.1 Never", False),
        (VerdictKind.REJECT, "550 4.7.1 mixed classes", False),
        (VerdictKind.REJECT, "550 5.7.1 line\r\nbreak", False),
        (VerdictKind.REJECT, "250 2.0.0 ok", False),
        (VerdictKind.ACCEPT, "550 5.7.1 an accept has no refusal", False),
    ],
)
def test_a_verdicts_own_reply_must_fit_its_class(kind: VerdictKind, reply: str, kept: bool) -> None:
    assert (Verdict(kind, "p", reply=reply).own_reply() == reply) is kept
