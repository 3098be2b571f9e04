"""The outbound benchmark's measurement, on its Postfix target (real Postfix relaying to real
sinks) and on the bare Python relay: every run's figure is end to end, what the sinks counted
equals what was accepted, the DKIM signatures of the sender's domain are counted on what a
dumping sink received (dkimpy signed), and the table shows the rates, the ratio to Postfix
and a target's problem instead of a figure."""

from __future__ import annotations

import smtplib

from load.bench_outbound import (
    CHECKED_SINK,
    NAMES,
    OutboundRun,
    RunFigures,
    TargetResult,
    count_signed,
    markdown,
    measure,
    signed_by,
    starts,
)
from load.signed_mail import SigningDomain
from load.sink_fleet import sink_fleet


async def test_postfix_relay_is_measured_end_to_end_and_counted_exactly() -> None:
    run = OutboundRun(messages=40, sessions=4, warmup=10, repeats=2, deadline=60.0)
    with sink_fleet(10, port=None, dump=[CHECKED_SINK]) as fleet:
        result = await measure("postfix", starts(fleet, 0, None, 10.0)["postfix"], fleet, run)
    assert result.problem is None
    assert (result.sent, result.at_sinks) == (90, 90)  # the warm-up counts at the sinks too
    assert [figures.accepted for figures in result.runs] == [40, 40]
    for figures in result.runs:
        assert figures.delivered_seconds is not None
        assert figures.delivered_seconds >= figures.submitted_seconds
    assert result.sink_sessions is not None and 0 < result.sink_sessions <= 90
    assert result.end_to_end is not None and result.end_to_end.median > 0
    # d9.test's tenth of the mail is read: Postfix signs nothing, MaiRust must sign every one.
    assert (result.signed, result.checked) == (0, 9)


async def test_the_bare_relay_floor_is_measured_the_same_way_and_loses_nothing() -> None:
    run = OutboundRun(messages=40, sessions=4, warmup=10, repeats=1, deadline=60.0)
    with sink_fleet(10, port=None, dump=[CHECKED_SINK]) as fleet:
        start = starts(fleet, 0, None, 30.0)["bare-relay"]
        result = await measure("bare-relay", start, fleet, run)
    assert result.problem is None
    assert (result.sent, result.at_sinks) == (50, 50)
    # Kept connections: at most one per destination for each of the 4 submitting sessions.
    assert result.sink_sessions is not None and 10 <= result.sink_sessions <= 40
    assert (result.signed, result.checked) == (0, 5)
    assert result.notes and "nothing durable" in result.notes[0]


def test_a_signature_counts_only_in_the_header_and_for_its_domain() -> None:
    received = b"X-Mail-Args: <sender@outbound.test>\nReceived: from x\n\tby sink.test;\n"
    signed = (
        received + b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
        b"\td=Outbound.test; s=sel;\n\th=from:to; bh=abc=; b=de\n\tf=\nFrom: a\n\nbody\n"
    )
    assert signed_by(signed, "outbound.test")
    assert not signed_by(signed, "other.test")
    assert not signed_by(
        received + b"From: a\n\nDKIM-Signature: d=outbound.test; b=x\n", "outbound.test"
    )
    assert not signed_by(received + b"X-DKIM-Signature: d=outbound.test\n\n", "outbound.test")


def test_the_table_gives_ratios_to_postfix_and_problems_in_place_of_figures() -> None:
    postfix = TargetResult("postfix", NAMES["postfix"], [RunFigures(100, 0.5, 1.0)] * 3)
    postfix.sent, postfix.at_sinks, postfix.sink_sessions, postfix.signed = 300, 300, 150, 0
    postfix.checked = 30
    mairust = TargetResult("mairust", NAMES["mairust"], [RunFigures(100, 0.4, 0.8)], ("DKIM on",))
    mairust.sent, mairust.at_sinks, mairust.sink_sessions, mairust.signed = 100, 100, 10, 10
    mairust.checked = 10
    broken = TargetResult("mairust-no-reuse", NAMES["mairust-no-reuse"], problem="3 not accepted")
    broken.sent, broken.at_sinks, broken.sink_sessions = 0, 0, 0
    table = markdown([postfix, mairust, broken], OutboundRun()).splitlines()
    assert table[-3] == (
        f"| {NAMES['postfix']} | 100 (100-100) | 1.00 | 200 (200-200) | 2.0 | 300 / 300 "
        "| 0 / 30 |  |"
    )
    assert table[-2] == (
        f"| {NAMES['mairust']} | 125 (125-125) | 1.25 | 250 (250-250) | 10.0 | 100 / 100 "
        "| 10 / 10 | DKIM on |"
    )
    assert (
        table[-1]
        == f"| {NAMES['mairust-no-reuse']} | - | - | - | - | 0 / 0 | - | **3 not accepted** |"
    )


def test_signatures_are_counted_on_what_the_dumping_sink_received() -> None:
    """A message dkimpy signed for outbound.test, one signed for another domain and one not
    signed at all, sent to a dumping sink: one counts."""
    ours, theirs = SigningDomain.generate("outbound.test"), SigningDomain.generate("other.test")
    body = b"From: <sender@outbound.test>\r\nTo: <user0@d0.test>\r\nSubject: s\r\n\r\nhello\r\n"
    with sink_fleet(1, port=None, dump=[0]) as fleet:
        sink = fleet.sinks[0]
        with smtplib.SMTP(sink.address, sink.port, timeout=10) as client:
            for message in (ours.sign(body), theirs.sign(body), body):
                client.sendmail("sender@outbound.test", ["user0@d0.test"], message)
        assert fleet.wait_for_messages(3, timeout=10)
        assert count_signed(fleet, {0: 0}, "outbound.test", expected=3) == 1
        assert count_signed(fleet, {0: sink.dumped_bytes()}, "outbound.test", 0) == 0
