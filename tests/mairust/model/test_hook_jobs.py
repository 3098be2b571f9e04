"""What a job's verdict does to the entries: tags and folder, quarantine to its folder."""

from __future__ import annotations

from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.hook_jobs import JobEffect
from mairust.model.verdict import Verdict, VerdictKind


def test_a_verdict_becomes_an_effect_and_back() -> None:
    tagged = Verdict(VerdictKind.CONTINUE, "p", annotations=Annotations("Work", ("a", "b")))
    assert JobEffect.of(tagged) == JobEffect("continue", ("a", "b"), "Work")
    held = Verdict(VerdictKind.QUARANTINE, "p", annotations=Annotations("Work", ("x",)))
    assert JobEffect.of(held) == JobEffect("quarantine", ("x",), QUARANTINE)
    assert JobEffect.of(Verdict(VerdictKind.REJECT, "p")) == JobEffect("reject")
    for effect in (JobEffect.of(tagged), JobEffect.of(held), JobEffect("continue")):
        assert JobEffect.from_json(effect.to_json()) == effect
    assert QUARANTINE == "Quarantine"
