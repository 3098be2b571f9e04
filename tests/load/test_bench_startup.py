"""load/bench_startup: its report — one row per start, medians per kind, CPU per process.

The benchmark itself (starting `mairust up`) runs from the command line; its numbers go to
docs/benchmarks.md. No timings are asserted here.
"""

from __future__ import annotations

from load.bench_startup import MARKS, StartRun, cpu_breakdown, row, summary


def run(kind: str, base: float, cpu: dict[int, tuple[str, float]] | None = None) -> StartRun:
    marks = {mark: base + step for step, mark in enumerate(MARKS)}
    return StartRun(kind, marks=marks, cpu_at_banner=cpu or {})


def test_row_shows_each_mark_and_the_cpu_at_banner():
    started = run("first start", 5.0, {1: ("raylet", 0.5), 2: ("ray::IDLE", 1.0)})
    assert row(started) == "| first start | 5.0 | 6.0 | 7.0 | 8.0 | 9.0 | 1.5 |  |"


def test_row_marks_what_never_happened():
    failed = StartRun("restart", marks={"smtp": 3.0}, problem="no banner")
    assert row(failed) == "| restart | 3.0 | - | - | - | - | 0.0 | no banner |"


def test_summary_takes_the_median_of_each_kind():
    runs = [run("first start", 4.0), run("first start", 9.0), run("first start", 5.0)]
    runs += [run("restart", 3.0)]
    lines = summary(runs).splitlines()
    assert lines[2] == "| first start | 5.0 | 6.0 | 7.0 | 8.0 | 9.0 |"
    assert lines[3] == "| restart | 3.0 | 4.0 | 5.0 | 6.0 | 7.0 |"


def test_cpu_breakdown_groups_processes_by_name():
    started = run("first start", 1.0, {1: ("ray::A", 1.0), 2: ("ray::A", 0.5), 3: ("b", 2.0)})
    assert cpu_breakdown(started) == "b x1 2.0, ray::A x2 1.5"
