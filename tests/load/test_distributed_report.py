"""The merge of a distributed run's parts, with known numbers: percentiles from the merged
latencies (not averaged), the rate over the union of the windows, reply codes summed, the
counts check catching parts that do not add up; JSON and plots."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from load.distributed_report import ACCEPTED, GeneratorResult, merge, write_plots
from load.smtp_load import LoadConfig, LoadResult


def part(
    index: int, latencies: list[float], start: float, end: float, **counts: int
) -> GeneratorResult:
    accepted = len(latencies)
    failures = {key: value for key, value in counts.items() if key[0].isdigit()}
    return GeneratorResult(
        index=index,
        node=f"127.0.0.1 node{index}",
        target="127.0.0.1:2525",
        first_message=0,
        messages=accepted + sum(failures.values()),
        started_at=start,
        ended_at=end,
        accepted=accepted,
        tempfailed=sum(v for k, v in failures.items() if k.startswith("4")),
        rejected=sum(v for k, v in failures.items() if k.startswith("5")),
        errors=0,
        cut=0,
        not_sent=0,
        replies={ACCEPTED: accepted, **failures} if accepted else failures,
        latencies_ms=sorted(latencies),
    )


def test_percentiles_come_from_the_merged_latencies_not_from_averaging() -> None:
    fast = part(0, [1.0, 2.0, 3.0, 4.0], start=100.0, end=102.0)
    slow = part(1, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0], start=101.0, end=105.0)
    report = merge([slow, fast], messages=10)
    # Nearest rank over the 10 merged values [1 2 3 4 10 20 30 40 50 60].
    assert report.latency(50) == 10.0  # averaging the medians (2 and 30) would give 16
    assert report.latency(90) == 50.0
    assert report.latency(99) == 60.0
    assert report.latency(100) == 60.0
    assert report.latencies_ms == [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    # The window is the union, 100 to 105: not the sum (6 s) nor the mean (3 s).
    assert report.seconds == 5.0
    assert report.rate == 2.0
    assert [p.index for p in report.generators] == [0, 1]


def test_reply_codes_and_outcomes_are_summed_and_the_check_passes() -> None:
    first = part(0, [5.0] * 7, 0.0, 1.0, **{"451": 2, "550": 1})
    second = part(1, [6.0] * 3, 0.0, 2.0, **{"550": 4, "554": 1})
    report = merge([first, second], messages=18)
    assert report.replies == {ACCEPTED: 10, "451": 2, "550": 5, "554": 1}
    assert report.outcomes == {"accepted": 10, "tempfailed": 2, "rejected": 6, "errors": 0}
    assert report.check() == []
    text = report.summary()
    assert "counts check   OK" in text
    assert "accepted       10 of 18 messages (7 + 3)" in text
    assert "2xx x10, 451 x2, 550 x5, 554 x1" in text
    assert report.as_json()["check"] == []


def test_the_check_names_a_part_whose_counts_do_not_add_up() -> None:
    honest = part(0, [1.0, 2.0], 0.0, 1.0)
    # Claims 3 accepted but its reply codes and latencies hold 2: a code lost on the way.
    lying = replace(part(1, [1.0, 2.0], 0.0, 1.0), accepted=3, messages=3)
    report = merge([honest, lying], messages=5)
    problems = report.check()
    assert "accepted: merged 4 != sum of parts 5" in problems
    assert "MISMATCH" in report.summary()
    assert merge([honest], messages=3).check() == [
        "shares add up to 2, not 3",
        "2 outcomes for 3 messages",
    ]


def test_a_part_is_made_from_a_load_result() -> None:
    result = LoadResult(
        config=LoadConfig(host="127.0.0.1", port=2600, messages=4),
        accepted=2,
        tempfailed=1,
        rejected=0,
        errors=1,
        aborted_at_deadline=0,
        not_attempted=0,
        recipients_tempfailed=1,
        recipients_rejected=0,
        failures={"421": 1, "error: timeout": 1},
        latencies_ms=(1.5, 2.5),
        wall_seconds=1.0,
        deadline_reached=False,
    )
    made = GeneratorResult.of(
        result, index=3, node="n", first_message=8, started_at=10.0, ended_at=11.0
    )
    assert made.replies == {"421": 1, "error: timeout": 1, ACCEPTED: 2}
    assert (made.target, made.messages, made.first_message) == ("127.0.0.1:2600", 4, 8)
    report = merge([made], messages=4)
    assert report.outcomes == {"accepted": 2, "tempfailed": 1, "rejected": 0, "errors": 1}
    assert report.check() == []


def test_merging_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to merge"):
        merge([], messages=1)


def test_plots_are_written(tmp_path: Path) -> None:
    report = merge([part(0, [1.0, 3.0], 0.0, 1.0), part(1, [2.0], 0.0, 2.0)], messages=3)
    paths = write_plots(report, tmp_path / "plots")
    assert [p.name for p in paths] == [
        "distributed-latency-cdf.png",
        "distributed-rate-by-generator.png",
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
