"""The reference benchmark: every reference target side by side in one run, one table, plots.

Owns the command: which targets run, the sessions sweep, the order (each target is started
once, warmed up, measured at every number of sessions, stopped), and where the Markdown table
and the PNG plots go. What a run is (message, load, repetitions, ratios) is
``load.reference``; the targets are ``load.reference_targets``; the report
``load.reference_report``.

``python -m load.bench_reference --help``. Tests run it tiny; they never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load.reference import (
    MESSAGES,
    REPEATS,
    SESSIONS,
    WARMUP,
    PointResult,
    ReferenceRun,
    Sender,
    measure_point,
    smtp_source_command,
    write_message_file,
)
from load.reference_report import PASSED_ON_NOTE, markdown_table, points_to_json, write_plots
from load.reference_targets import TargetOptions, all_targets
from load.targets import machine_line

log = logging.getLogger("load.reference")

DEFAULT_TARGETS = (
    "sink",
    "postfix",
    "postfix-relay",
    "aiosmtpd",
    "mairust",
    "mairust-2fe",
    "mairust-checks",
)


@dataclass(frozen=True)
class Plan:
    run: ReferenceRun
    targets: tuple[str, ...]
    options: TargetOptions


async def run_plan(plan: Plan, workdir: Path) -> list[PointResult]:
    """Every target in turn, each started once and measured at every sessions value."""
    message_file = write_message_file(workdir, plan.run)
    known = all_targets(plan.options)
    points: list[PointResult] = []
    for key in plan.targets:
        name, start = known[key]
        log.info("%s: starting", name)
        try:
            async with start(plan.run, workdir) as endpoint:
                sender = Sender(plan.run, endpoint, message_file)
                if plan.run.warmup:
                    warm = await sender.send(plan.run.sessions[0], plan.run.warmup)
                    if warm.problem is not None:
                        raise RuntimeError(f"warm-up: {warm.problem}")
                for sessions in plan.run.sessions:
                    points.append(await measure_point(name, sender, sessions))
                    if points[-1].problem is not None:
                        # smtp-source says only that it gave up, not how many were accepted
                        # before: what the target should have passed on is unknown from here.
                        raise RuntimeError(f"a failed run at {sessions} sessions")
        except (RuntimeError, OSError) as exc:  # it could not start, or stopped answering
            log.error("%s: %s", name, exc)
            measured = {p.sessions for p in points if p.target == name}
            points += [
                PointResult(name, sessions, problem=str(exc).splitlines()[0])
                for sessions in plan.run.sessions
                if sessions not in measured
            ]
    return points


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _sessions(text: str) -> tuple[int, ...]:
    return tuple(_positive(part) for part in text.split(","))


def _targets(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in all_targets(TargetOptions())]
    if unknown or not names:
        known = ", ".join(all_targets(TargetOptions()))
        raise argparse.ArgumentTypeError(f"unknown target(s) {unknown}; known: {known}")
    return names


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: a fraction in (0, 1], e.g. 0.8")
    return value


def _parser() -> argparse.ArgumentParser:
    example = smtp_source_command(ReferenceRun(), 0, SESSIONS, MESSAGES, Path("MESSAGE"))
    parser = argparse.ArgumentParser(
        prog="python -m load.bench_reference",
        description="The reference benchmark of MaiRust: smtp-sink, Postfix durable accept, "
        "Postfix relaying to smtp-sink, bare aiosmtpd and `mairust up` (checks off, checks on, "
        "and on PostgreSQL + S3 + OpenSearch with --production), side by side in one run on "
        "loopback. Throughput: Postfix's smtp-source, one point = "
        f"`{shlex.join(example[:-1])} 127.0.0.1:PORT` (MESSAGE: a 5 KiB message, a new "
        "connection per message); the median of --repeats runs with min and max. Latency: "
        "load.smtp_load at the same sessions. Ratios: median over Postfix durable accept's, "
        "same run, same sessions. Exit status 0 if every target ran, 1 otherwise.",
    )
    add = parser.add_argument
    add("--messages", type=_positive, default=MESSAGES, help=f"messages a run (default {MESSAGES})")
    add(
        "--sessions",
        type=_sessions,
        default=(SESSIONS,),
        help=f"concurrent sessions, comma-separated for a sweep, e.g. 1,5,20,50 (default "
        f"{SESSIONS}); the first is also the warm-up's",
    )
    add(
        "--repeats",
        type=_positive,
        default=REPEATS,
        help=f"measured runs a point (default {REPEATS}; the median counts)",
    )
    add(
        "--warmup",
        type=int,
        default=WARMUP,
        help=f"unmeasured messages sent first to each target (default {WARMUP})",
    )
    add(
        "--latency-messages",
        type=_positive,
        default=None,
        help="messages of the smtp_load latency run a point (default: --messages)",
    )
    add(
        "--latency-at",
        type=_fraction,
        default=None,
        help="offer the latency run this fraction of the point's median accepted rate, open "
        "loop (e.g. 0.8: p99 at 80 %% of peak); default: the same sessions as fast as replies "
        "come",
    )
    add(
        "--deadline",
        type=float,
        default=600.0,
        help="seconds a client run, or the wait for a target to pass messages on, may take "
        "(default 600)",
    )
    add(
        "--targets",
        type=_targets,
        default=DEFAULT_TARGETS,
        help=f"comma-separated, in this order: {', '.join(all_targets(TargetOptions()))} "
        f"(default {','.join(DEFAULT_TARGETS)})",
    )
    add(
        "--production",
        action="store_true",
        help="add mairust-production: `mairust up` on PostgreSQL + S3 + OpenSearch (needs "
        "MAIRUST_TEST_*; run under .ci/with-services.sh)",
    )
    add("--mairust", default=None, help="the mairust command (default .venv/bin/mairust)")
    add(
        "--startup-timeout",
        type=float,
        default=180.0,
        help="seconds for `mairust up` to greet and its API to answer (default 180)",
    )
    add(
        "--markdown",
        type=Path,
        default=None,
        help="also write the table (with the command, date and load average) to this file",
    )
    add(
        "--plots",
        type=Path,
        default=None,
        help="directory for the PNG plots (msg/s against sessions; latency CDF)",
    )
    add(
        "--cdf-sessions",
        type=_positive,
        default=None,
        help="sessions of the latency CDF plot (default: 20 if swept, else the first)",
    )
    add(
        "--json",
        type=Path,
        default=None,
        help="also write every run and latency as JSON (`python -m load.reference_report "
        "FILE --plots DIR` draws the plots again from it)",
    )
    return parser


def parse_plan(argv: Sequence[str] | None) -> tuple[Plan, argparse.Namespace]:
    args = _parser().parse_args(argv)
    targets = args.targets
    if args.production and "mairust-production" not in targets:
        targets = (*targets, "mairust-production")
    run = ReferenceRun(
        messages=args.messages,
        sessions=args.sessions,
        warmup=max(0, args.warmup),
        repeats=args.repeats,
        latency_messages=args.latency_messages or args.messages,
        latency_load=args.latency_at,
        deadline=args.deadline,
    )
    options = TargetOptions(mairust=args.mairust, startup_timeout=args.startup_timeout)
    return Plan(run, targets, options), args


def report(points: Sequence[PointResult], header: str) -> str:
    return f"{header}\n\n{markdown_table(points)}\n\n{PASSED_ON_NOTE}\n"


def main(argv: Sequence[str] | None = None, *, out: Callable[[str], Any] = print) -> int:
    plan, args = parse_plan(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-reference-") as tmp:
        points = asyncio.run(run_plan(plan, Path(tmp)))
    command = shlex.join(["python", "-m", "load.bench_reference", *(argv or sys.argv[1:])])
    load_after = os.getloadavg()[0]
    header = f"`{command}` — {machine_line(load_before)}; {load_after:.2f} after it"
    text = report(points, header)
    out(text)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(points_to_json(points))
    if args.plots is not None:
        swept = plan.run.sessions
        cdf = args.cdf_sessions or (SESSIONS if SESSIONS in swept else swept[0])
        for path in write_plots(points, args.plots, cdf):
            out(f"plot: {path}")
    return 0 if all(point.problem is None for point in points) else 1


if __name__ == "__main__":
    sys.exit(main())
