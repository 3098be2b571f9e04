"""A process's counters: reply codes from our replies only, minutes kept and forgotten,
and the snapshot the API reads."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mairust.telemetry import (
    AUTH_PREFIX,
    HOOK_CALLS_PREFIX,
    HOOK_MS_PREFIX,
    HOOK_VERDICT_PREFIX,
    MESSAGES_IN,
    MESSAGES_OUT_LOCAL,
    MESSAGES_OUT_REMOTE,
    MinuteCounts,
    PlatformMetrics,
    reply_code,
)


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_reply_codes_are_read_from_final_lines_and_bounded():
    assert reply_code("250 2.0.0 queued as 01ABC") == ("250", "2.0.0")
    assert reply_code("550 5.1.1 <x@y>: no such user") == ("550", "5.1.1")
    assert reply_code("250-PIPELINING") is None  # a continuation line is no reply yet
    assert reply_code("354 End data with <CR><LF>.<CR><LF>") == ("354", "other")
    # Anything not shaped like a code is one label, however many different ones come.
    assert reply_code("9999 x") == ("other", "other")
    assert reply_code("421 4.7.0.99999 slow down") == ("421", "other")


def test_minutes_outside_the_window_are_forgotten():
    now = [600.0]
    minutes = MinuteCounts(kept=3, clock=lambda: now[0])
    minutes.add("a")
    now[0] += 60
    minutes.add("a", 2)
    assert minutes.snapshot() == {10: {"a": 1}, 11: {"a": 2}}
    now[0] += 180  # minute 14: 10 and 11 fell out of the 3-minute window
    minutes.add("b")
    assert minutes.snapshot() == {14: {"b": 1}}


def test_each_stage_is_counted_and_the_snapshot_carries_it():
    metrics = PlatformMetrics(clock=lambda: 120.0)
    metrics.session_opened("smtp")
    metrics.reply_sent("250 2.0.0 queued")
    metrics.accepted(0.01, "250 2.0.0 queued")
    metrics.spool_committed(messages=2, local_rows=3, seconds=0.004)
    metrics.stage_ran("parse", rows=3, seconds=0.002)
    metrics.rows_settled(delivered=3, deferred=1, failed=0)
    metrics.attempt_made("delivered", 0.2)
    metrics.attempt_made("deferred", 0.3)
    metrics.hook_calls([("spam", 12.4, "continue"), ("spam", 7.6, "reject")])
    metrics.auth_checked({"spf": "pass", "dmarc": "fail"})
    metrics.session_closed()

    snapshot = metrics.snapshot("smtp-frontend")
    assert snapshot.process == "smtp-frontend"
    text = snapshot.exposition
    assert values(text, "mairust_smtp_sessions_total") == {(("listener", "smtp"),): 1.0}
    assert values(text, "mairust_smtp_sessions_open") == {(): 0.0}
    assert values(text, "mairust_smtp_replies_total") == {
        (("code", "250"), ("enhanced", "2.0.0")): 1.0
    }
    assert values(text, "mairust_smtp_accept_duration_seconds_count") == {
        (("outcome", "2xx"),): 1.0
    }
    assert values(text, "mairust_spool_messages_total") == {(("result", "committed"),): 2.0}
    assert values(text, "mairust_pipeline_stage_rows_total") == {(("stage", "parse"),): 3.0}
    assert values(text, "mairust_pipeline_rows_total") == {
        (("outcome", "delivered"),): 3.0,
        (("outcome", "deferred"),): 1.0,
    }
    assert values(text, "mairust_delivery_attempt_duration_seconds_count") == {
        (("result", "delivered"),): 1.0,
        (("result", "deferred"),): 1.0,
    }
    minute = snapshot.minutes[2]
    assert minute[MESSAGES_IN] == 2
    assert minute[MESSAGES_OUT_LOCAL] == 3
    assert minute[MESSAGES_OUT_REMOTE] == 1
    assert minute["reply:250"] == 1
    assert minute[HOOK_CALLS_PREFIX + "spam"] == 2
    assert minute[HOOK_MS_PREFIX + "spam"] == 20
    assert minute[HOOK_VERDICT_PREFIX + "spam:continue"] == 1
    assert minute[HOOK_VERDICT_PREFIX + "spam:reject"] == 1
    assert (minute[AUTH_PREFIX + "spf:pass"], minute[AUTH_PREFIX + "dmarc:fail"]) == (1, 1)
