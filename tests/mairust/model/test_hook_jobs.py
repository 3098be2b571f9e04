"""What a job's verdict does to the entries (tags and folder, quarantine to its folder), and
which of its notes an entry shows."""

from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.hook_jobs import HookJob, HookJobState, JobEffect, notes_for
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


def test_notes_ride_on_the_effect_and_back() -> None:
    noted = JobEffect.of(Verdict(VerdictKind.CONTINUE, "p"), (("summary", "the gist"),))
    assert noted == JobEffect("continue", notes=(("summary", "the gist"),))
    assert noted.to_json()["notes"] == {"summary": "the gist"}
    assert JobEffect.from_json(noted.to_json()) == noted
    assert "notes" not in JobEffect("continue").to_json()  # results without notes unchanged


def _job(plugin: str, notes: dict[str, str], **fields: object) -> HookJob:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "id": plugin,
        "message_id": "m1",
        "binding_id": "b",
        "plugin": plugin,
        "point": "post_receive",
        "mode": "enforce",
        "tenant_id": None,
        "domain": None,
        "state": HookJobState.DONE,
        "attempts": 1,
        "next_attempt_at": now,
        "created_at": now,
        "result": {"verdict": "continue", "tags": [], "folder": None, "notes": notes},
    }
    values.update(fields)
    return HookJob(**values)  # type: ignore[arg-type]


def test_an_entry_shows_the_notes_its_jobs_would_apply_to_it() -> None:
    jobs = [
        _job("summarizer", {"summary": "the gist"}),
        _job("language", {"language": "fr"}, tenant_id="t1", domain="A.example"),
        _job("shadowed", {"x": "1"}, mode="shadow"),
        _job("running", {"x": "2"}, state=HookJobState.LEASED),
        _job("elsewhere", {"x": "3"}, tenant_id="t2"),
        _job("other-domain", {"x": "4"}, domain="b.example"),
        _job("silent", {}),
    ]
    assert notes_for(jobs, "t1", "ann@a.example") == {
        "summarizer": {"summary": "the gist"},
        "language": {"language": "fr"},
    }
    assert notes_for(jobs, "t2", "bo@b.example") == {
        "summarizer": {"summary": "the gist"},
        "elsewhere": {"x": "3"},
        "other-domain": {"x": "4"},
    }
