"""What a reference run reports: one Markdown table and two PNG plots.

Owns the table (median, min and max accepted msg/s; msg/s passed on behind the 250; p50/p99
latency; ratios to Postfix durable accept, pair by pair: same run, same sessions) and the
plots (accepted msg/s against concurrent sessions per server; the latency CDF per server at
one number of sessions), drawn with matplotlib without a display; and the raw results as JSON
(every run, every latency), so a table or plot can be drawn again without measuring again:
``python -m load.reference_report RESULTS.json --plots DIR``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from load.reference import SESSIONS, ClientRun, PointResult, Spread, ratio
from load.smtp_load import LoadConfig, LoadResult

BASELINE = "Postfix durable accept"
TABLE_HEADER = (
    "| target | client | sessions | accepted msg/s (median) | min | max "
    "| passed on msg/s (median) | p50 ms | p99 ms | ratio to Postfix durable (accepted) "
    "| ratio to Postfix durable (passed on) | counted / sent | p50/p99 measured at |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
)
PASSED_ON_NOTE = (
    "*passed on*: messages / time from the client's start until the target had passed every "
    "message on: Postfix's queue empty (discarded or relayed), the relay's smtp-sink holding "
    "all of them, MaiRust's queue drained into the mailboxes. *counted / sent*: what the "
    "target counted (messages smtp-sink received, deliveries Postfix logged, MaiRust queue rows "
    "done) against what was accepted from the client, warm-up included. smtp-sink and bare "
    "aiosmtpd discard at the 250, so their passed-on ratio uses their accepted rate."
)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _latency_load(latency: LoadResult | None) -> str:
    """What load the latency run offered: the sessions' own pace, or an offered rate (and
    how far behind its schedule the run fell, which says whether the rate was held)."""
    if latency is None:
        return "-"
    if latency.config.rate is None:
        return "peak (closed loop)"
    return f"{latency.config.rate:.0f} msg/s offered, worst start lag {latency.worst_lag_ms:.0f} ms"


def baseline_of(points: Sequence[PointResult], sessions: int) -> PointResult | None:
    return next((p for p in points if p.target == BASELINE and p.sessions == sessions), None)


def markdown_table(points: Sequence[PointResult]) -> str:
    rows = [TABLE_HEADER]
    for point in points:
        base = baseline_of(points, point.sessions)
        accepted, passed_on = point.accepted, point.settled
        latency = point.latency
        p50 = None if latency is None else latency.latency_percentile(50)
        p99 = None if latency is None else latency.latency_percentile(99)
        counted = "-" if point.counted is None else f"{point.counted} / {point.sent}"
        if point.problem is not None:
            counted += f" — not run: {point.problem.replace('|', '/')}"
        rows.append(
            "| "
            + " | ".join(
                [
                    point.target,
                    point.client,
                    str(point.sessions),
                    _number(None if accepted is None else accepted.median),
                    _number(None if accepted is None else accepted.minimum),
                    _number(None if accepted is None else accepted.maximum),
                    _number(None if passed_on is None else passed_on.median),
                    _number(p50, 1),
                    _number(p99, 1),
                    _ratio(ratio(accepted, None if base is None else base.accepted)),
                    _ratio(_passed_on_ratio(point, base)),
                    counted,
                    _latency_load(latency),
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def _passed_on_ratio(point: PointResult, base: PointResult | None) -> float | None:
    """Passed-on rate over Postfix's own passed-on rate (its queue emptied into discard)."""
    if base is None:
        return None
    mine: Spread | None = point.settled or point.accepted  # nothing behind the 250: same
    return ratio(mine, base.settled)


def plot_rate_by_sessions(points: Sequence[PointResult], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    figure, axes = plt.subplots(figsize=(11, 5), dpi=120)
    for target in dict.fromkeys(point.target for point in points):
        mine = [p for p in points if p.target == target and p.accepted is not None]
        if not mine:
            continue
        sessions = [p.sessions for p in mine]
        medians = [p.accepted.median for p in mine if p.accepted is not None]
        low = [m - p.accepted.minimum for m, p in zip(medians, mine, strict=True) if p.accepted]
        high = [p.accepted.maximum - m for m, p in zip(medians, mine, strict=True) if p.accepted]
        axes.errorbar(sessions, medians, yerr=[low, high], marker="o", capsize=3, label=target)
    swept = sorted({point.sessions for point in points})
    axes.set_xscale("log")
    axes.set_xticks(swept, [str(s) for s in swept])
    axes.minorticks_off()
    axes.set_yscale("log")
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("concurrent SMTP sessions (a new connection per message; log scale)")
    axes.set_ylabel("accepted msg/s (median; bars: min to max; log scale)")
    axes.set_title("Accepted 5 KiB messages per second against concurrent sessions")
    axes.grid(True, which="both", alpha=0.3)
    # Outside the axes: inside, it hides points whatever corner it takes.
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_latency_cdf(points: Sequence[PointResult], sessions: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(11, 5), dpi=120)
    for point in points:
        if point.sessions != sessions or point.latency is None:
            continue
        latencies = point.latency.latencies_ms  # sorted
        if not latencies:
            continue
        share = [(i + 1) / len(latencies) for i in range(len(latencies))]
        axes.step(latencies, share, where="post", label=point.target)
    axes.set_xscale("log")
    axes.set_xlabel("latency, MAIL FROM to 250 after DATA (ms, log scale)")
    axes.set_ylabel("share of accepted messages")
    axes.set_title(f"Latency CDF at {sessions} concurrent sessions (smtp_load)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_plots(points: Sequence[PointResult], directory: Path, cdf_sessions: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        plot_rate_by_sessions(points, directory / "reference-rate-by-sessions.png"),
        plot_latency_cdf(points, cdf_sessions, directory / "reference-latency-cdf.png"),
    ]


def points_to_json(points: Sequence[PointResult]) -> str:
    return json.dumps([asdict(point) for point in points], indent=1)


def points_from_json(text: str) -> list[PointResult]:
    points = []
    for raw in json.loads(text):
        latency: dict[str, Any] | None = raw.pop("latency")
        point = PointResult(**raw)
        runs = tuple(ClientRun(**run) for run in raw["runs"])
        loaded = None
        if latency is not None:
            config = LoadConfig(**latency.pop("config"))
            latencies = tuple(latency.pop("latencies_ms"))
            loaded = LoadResult(config=config, latencies_ms=latencies, **latency)
        points.append(replace(point, runs=runs, latency=loaded))
    return points


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m load.reference_report",
        description="Draw the table and plots of a reference run again from its --json file.",
    )
    parser.add_argument("results", type=Path, help="the --json file of load.bench_reference")
    parser.add_argument("--plots", type=Path, default=None, help="directory for the PNG plots")
    parser.add_argument("--cdf-sessions", type=int, default=None, help="sessions of the CDF")
    args = parser.parse_args(argv)
    points = points_from_json(args.results.read_text())
    print(markdown_table(points))
    if args.plots is not None:
        swept = sorted({point.sessions for point in points})
        cdf = args.cdf_sessions or (SESSIONS if SESSIONS in swept else swept[0])
        for path in write_plots(points, args.plots, cdf):
            print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
