"""Behaviour of the reference report: ratios pair by pair (same sessions, against Postfix
durable accept of the same run), a row for a target that could not run, and PNG plots."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from load.reference import ClientRun, PointResult, ReferenceRun
from load.reference_report import (
    BASELINE,
    main,
    markdown_table,
    points_from_json,
    points_to_json,
    write_plots,
)
from load.smtp_load import LoadResult


def runs(*rates: float, settled: float | None = None) -> tuple[ClientRun, ...]:
    """Runs of 1000 messages at these accepted rates (passed on at ``settled`` msg/s)."""
    return tuple(
        ClientRun(1000, 1000 / rate, 1000, None if settled is None else 1000 / settled)
        for rate in rates
    )


def latency(*ms: float) -> LoadResult:
    config = ReferenceRun().load_config(2525, 20, len(ms))
    return LoadResult(config, len(ms), 0, 0, 0, 0, 0, 0, 0, {}, tuple(sorted(ms)), 1.0, False)


POINTS = [
    PointResult(BASELINE, 5, runs=runs(400, 500, 600, settled=250), counted=3000, sent=3000),
    PointResult(BASELINE, 20, runs=runs(1000, 900, 1100, settled=500), latency=latency(2, 4)),
    PointResult("mairust", 5, runs=runs(100, 50, 150, settled=25)),
    PointResult("mairust", 20, runs=runs(300, 200, 250, settled=100), latency=latency(9, 30)),
    PointResult("smtp-sink", 20, runs=runs(4000, 4000, 4000)),
    PointResult("broken", 20, problem="no greeting | at all"),
]


def row(table: str, target: str, sessions: int) -> list[str]:
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == target and cells[2] == str(sessions):
            return cells
    raise AssertionError(f"no row for {target} at {sessions}")


def test_each_row_has_median_min_max_and_ratios_at_its_own_sessions() -> None:
    table = markdown_table(POINTS)
    assert row(table, "mairust", 5)[3:7] == ["100", "50", "150", "25"]
    assert row(table, "mairust", 5)[9:11] == ["0.200", "0.100"]  # 100/500, 25/250
    assert row(table, "mairust", 20)[9:11] == ["0.250", "0.200"]  # 250/1000, 100/500
    assert row(table, BASELINE, 20)[9:11] == ["1.000", "1.000"]


def test_latency_percentiles_come_from_the_latency_run() -> None:
    table = markdown_table(POINTS)
    assert row(table, "mairust", 20)[7:9] == ["9.0", "30.0"]
    assert row(table, "mairust", 5)[7:9] == ["-", "-"]


def test_the_last_column_says_at_what_load_latency_was_measured() -> None:
    paced = latency(9, 30)
    paced = replace(paced, config=replace(paced.config, rate=200.0), worst_lag_ms=3.4)
    points = [*POINTS, PointResult("paced", 20, runs=runs(250), latency=paced)]
    table = markdown_table(points)
    assert row(table, "mairust", 20)[12] == "peak (closed loop)"
    assert row(table, "paced", 20)[12] == "200 msg/s offered, worst start lag 3 ms"
    assert row(table, "mairust", 5)[12] == "-"


def test_a_discarding_target_is_compared_on_its_accepted_rate() -> None:
    assert row(markdown_table(POINTS), "smtp-sink", 20)[6] == "-"
    assert row(markdown_table(POINTS), "smtp-sink", 20)[9:11] == ["4.000", "8.000"]


def test_a_target_that_did_not_run_says_why_and_breaks_no_column() -> None:
    cells = row(markdown_table(POINTS), "broken", 20)
    assert len(cells) == len(row(markdown_table(POINTS), "mairust", 20))
    assert cells[3] == "-" and "not run: no greeting / at all" in cells[11]


def test_without_the_baseline_there_is_no_ratio() -> None:
    cells = row(markdown_table([p for p in POINTS if p.target != BASELINE]), "mairust", 20)
    assert cells[9:11] == ["-", "-"]


def test_counted_and_sent_are_shown_side_by_side() -> None:
    assert row(markdown_table(POINTS), BASELINE, 5)[11] == "3000 / 3000"


def test_the_plots_are_png_files(tmp_path: Path) -> None:
    paths = write_plots(POINTS, tmp_path / "plots", cdf_sessions=20)
    assert [path.name for path in paths] == [
        "reference-rate-by-sessions.png",
        "reference-latency-cdf.png",
    ]
    for path in paths:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert path.stat().st_size > 10_000, "an empty figure is a few KiB"


def test_the_json_results_give_back_the_same_table(tmp_path: Path) -> None:
    text = points_to_json(POINTS)
    again = points_from_json(text)
    assert again == POINTS
    assert markdown_table(again) == markdown_table(POINTS)


def test_the_plots_are_drawn_again_from_the_json(tmp_path: Path, capsys) -> None:
    results = tmp_path / "results.json"
    results.write_text(points_to_json(POINTS))
    assert main([str(results), "--plots", str(tmp_path / "again")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(markdown_table(POINTS))
    assert (tmp_path / "again" / "reference-latency-cdf.png").exists()
