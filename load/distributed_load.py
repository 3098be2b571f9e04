"""Distributed load: N generator actors spread over a Ray cluster's nodes, one merged report.

Owns the plan (each generator's share of the messages and sessions, its target), the generator
actor and the driver: create the actors (round-robin over the alive nodes, or over the nodes
that carry a custom resource), wait until every one is up so they start together, run them,
print progress while they run, collect their parts and merge them (``load.distributed_report``).

Each actor runs the generator of ``load.smtp_load`` unchanged on its slice of the run: messages
``first .. first + share - 1`` of one numbering, with one Message-ID token for the whole run, so
every message of the run has its own Message-ID and its own ``Subject: load test message N``.
Targets are refused unless loopback, as ``smtp_load`` refuses them, before Ray is touched.

``python -m load.distributed_load --help`` for the command line.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cluster.ray_runtime import start_ray
from load.distributed_report import GeneratorResult, MergedReport, merge, write_plots
from load.smtp_load import (
    LoadConfig,
    LoadRun,
    MessageSource,
    add_load_options,
    loopback_address,
    message_factory,
)
from mairust.config import Settings

__all__ = [
    "DistributedPlan",
    "LoadGenerator",
    "main",
    "parse_targets",
    "run_distributed",
    "shares",
]

# Seconds the driver waits beyond the generators' own deadline before it gives up on them.
_DEADLINE_SLACK = 60.0
# Seconds for every generator actor to be up (a worker process started on its node).
_START_TIMEOUT = 120.0


def parse_targets(text: str) -> list[tuple[str, int]]:
    """``HOST:PORT[,HOST:PORT...]`` (``[::1]:PORT`` for IPv6); loopback hosts only."""
    targets = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, colon, port = item.rpartition(":")
        if not colon or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not HOST:PORT: {item!r}")
        loopback_address(host)  # NonLoopbackHostError is a ValueError
        targets.append((host.strip("[]"), int(port)))
    if not targets:
        raise ValueError("no target given")
    return targets


def shares(total: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of each part: ``total`` split as evenly as possible, in order."""
    if parts < 1 or total < parts:
        raise ValueError(f"cannot split {total} into {parts} parts of at least one")
    base, extra = divmod(total, parts)
    counts = [base + (1 if index < extra else 0) for index in range(parts)]
    return [(sum(counts[:index]), count) for index, count in enumerate(counts)]


@dataclass(frozen=True)
class DistributedPlan:
    """A run: ``config`` holds the totals (messages, sessions) and the per-message options;
    generator ``i`` sends to ``targets[i % len(targets)]``. ``resource`` (name, amount) keeps
    generators to the nodes carrying it, each reserving the amount unless None; ``cpus`` is
    what each generator reserves on its node."""

    config: LoadConfig
    targets: list[tuple[str, int]]
    generators: int = 2
    resource: tuple[str, float | None] | None = None
    cpus: float = 0.0
    run_token: str = ""

    def parts(self) -> list[tuple[int, LoadConfig]]:
        """(first message, config) of each generator."""
        messages = shares(self.config.messages, self.generators)
        sessions = shares(max(self.config.sessions, self.generators), self.generators)
        planned = []
        pairs = zip(messages, sessions, strict=True)
        for index, ((first, count), (_, session_count)) in enumerate(pairs):
            host, port = self.targets[index % len(self.targets)]
            config = replace(
                self.config, host=host, port=port, messages=count, sessions=session_count
            )
            planned.append((first, config))
        return planned


class _Slice:
    """Messages ``first ..`` of the run's numbering, seen by one generator as ``0 ..``."""

    def __init__(self, source: MessageSource, first: int) -> None:
        self._source = source
        self._first = first

    def recipients(self, index: int) -> list[str]:
        return self._source.recipients(self._first + index)

    def build(self, index: int) -> bytes:
        return self._source.build(self._first + index)


class LoadGenerator:
    """One generator; a Ray actor (async, so ``progress`` answers while ``run`` sends)."""

    def __init__(self, index: int) -> None:
        self._index = index
        self._run: LoadRun | None = None

    def node(self) -> str:
        context = ray.get_runtime_context()
        address: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
        return f"{address} {context.get_node_id()[:8]}"

    async def ready(self) -> str:
        return self.node()

    async def progress(self) -> tuple[int, int]:
        return (0, 0) if self._run is None else self._run.progress()

    async def run(self, config: LoadConfig, first: int, run_token: str) -> GeneratorResult:
        source = _Slice(message_factory(config, id_token=run_token), first)
        self._run = LoadRun(config, source)
        started_at = time.time()
        result = await self._run.run()
        return GeneratorResult.of(
            result,
            index=self._index,
            node=self.node(),
            first_message=first,
            started_at=started_at,
            ended_at=time.time(),
        )


Progress = Callable[[str], None]


def run_distributed(
    plan: DistributedPlan, progress: Progress | None = None, interval: float = 1.0
) -> MergedReport:
    """Run ``plan`` on the Ray this process is connected to; ``progress`` gets a line about
    every ``interval`` seconds while the generators run."""
    say = progress or (lambda line: None)
    run_token = plan.run_token or uuid.uuid4().hex[:12]
    planned = plan.parts()
    nodes = _nodes(plan.resource)
    options: dict[str, Any] = {
        "num_cpus": plan.cpus,
        "max_restarts": 0,  # a generator that died would resend: its part fails instead
    }
    if plan.resource is not None and plan.resource[1] is not None:
        options["resources"] = {plan.resource[0]: plan.resource[1]}
    actor_class: Any = ray.remote(LoadGenerator)
    # Round-robin over the nodes, each generator pinned: "SPREAD" alone leaves actors that
    # reserve no resources where Ray likes (ray-project/ray#27577), often all on one node.
    actors: list[Any] = [
        actor_class.options(
            **options,
            scheduling_strategy=NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=False),
        ).remote(i)
        for i in range(len(planned))
    ]
    try:
        placed = ray.get([actor.ready.remote() for actor in actors], timeout=_START_TIMEOUT)
        say(f"{len(actors)} generators up on {len(set(placed))} node(s); run {run_token}")
        runs = [
            actor.run.remote(config, first, run_token)
            for actor, (first, config) in zip(actors, planned, strict=True)
        ]
        _watch(actors, runs, plan, say, interval)
        parts: list[GeneratorResult] = ray.get(runs)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    return merge(parts, plan.config.messages)


def _nodes(resource: tuple[str, float | None] | None) -> list[str]:
    """Ids of the alive nodes (those carrying ``resource``, if given), in a stable order."""
    every: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    nodes = sorted(
        node["NodeID"]
        for node in every
        if node["Alive"] and (resource is None or resource[0] in node["Resources"])
    )
    if not nodes:
        wanted = f" with resource {resource[0]!r}" if resource else ""
        raise ValueError(f"no alive Ray node{wanted} to place generators on")
    return nodes


def _watch(
    actors: Sequence[Any], runs: list[Any], plan: DistributedPlan, say: Progress, interval: float
) -> None:
    """Wait for every run, a progress line per ``interval``; give up past the deadline."""
    started = time.monotonic()
    give_up = started + plan.config.deadline + _DEADLINE_SLACK
    pending = list(runs)
    while pending:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=interval)
        if not pending:
            break
        if time.monotonic() > give_up:
            raise TimeoutError(f"generators still running {_DEADLINE_SLACK:.0f} s past deadline")
        counts = ray.get([actor.progress.remote() for actor in actors])
        accepted = sum(count[0] for count in counts)
        settled = sum(count[1] for count in counts)
        elapsed = time.monotonic() - started
        each = " ".join(f"{count[1]}" for count in counts)
        say(
            f"[{elapsed:6.1f} s] {settled}/{plan.config.messages} settled, {accepted} accepted, "
            f"{accepted / elapsed:.0f} msg/s (per generator: {each})"
        )


def _targets(text: str) -> list[tuple[str, int]]:
    try:
        return parse_targets(text)
    except ValueError as exc:  # argparse would print only "invalid value"
        raise argparse.ArgumentTypeError(str(exc)) from None


def _resource(text: str) -> tuple[str, float | None]:
    name, _, amount = text.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"not NAME[:AMOUNT]: {text!r}")
    try:
        return name, float(amount) if amount else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"not NAME[:AMOUNT]: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.distributed_load",
        description="SMTP load from N generator actors spread over a Ray cluster's nodes, "
        "merged into one report. --messages and --sessions are totals, split over the "
        "generators. Exit status: 0 all accepted and the counts check, 1 otherwise, "
        "2 bad arguments.",
    )
    add = parser.add_argument
    add("--ray-address", default=None, help="join this Ray cluster (default: a local one)")
    add("--generators", type=int, default=2, help="generator actors (default 2)")
    add(
        "--target",
        dest="targets",
        type=_targets,
        required=True,
        help="HOST:PORT[,HOST:PORT...], loopback only; generator i sends to target i mod count",
    )
    add_load_options(parser)
    add(
        "--resource",
        type=_resource,
        default=None,
        help="NAME[:AMOUNT]: only nodes carrying NAME; each generator reserves AMOUNT if given",
    )
    add("--cpus", type=float, default=0.0, help="CPUs each generator reserves (default 0)")
    add("--json", type=Path, default=None, metavar="FILE", help="write the report as JSON")
    add("--plots", type=Path, default=None, metavar="DIR", help="write PNG plots to DIR")
    add("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    skip = {"ray_address", "generators", "targets", "resource", "cpus", "json", "plots", "quiet"}
    options = {k: v for k, v in vars(args).items() if k not in skip}
    try:
        host, port = args.targets[0]
        plan = DistributedPlan(
            config=LoadConfig(host=host, port=port, **options),
            targets=args.targets,
            generators=args.generators,
            resource=args.resource,
            cpus=args.cpus,
        )
        for first, config in plan.parts():
            message_factory(config).build(first + config.messages - 1)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    joined = not ray.is_initialized()  # an embedding process keeps its own Ray
    if joined:
        _connect(args.ray_address)
    try:
        say = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        report = run_distributed(plan, say)
    finally:
        if joined:
            ray.shutdown()
    print(report.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2))
    if args.plots is not None:
        for path in write_plots(report, args.plots):
            print(f"plot           {path}")
    all_in = report.accepted == plan.config.messages and not report.check()
    return 0 if all_in else 1


def _connect(address: str | None) -> None:
    """Join ``address``, or start a local Ray on 127.0.0.1. ``address="local"``: without it
    ``ray.init`` joins whatever cluster a ``ray start`` on this machine last announced."""
    if address:
        start_ray(Settings(cluster={"ray_address": address}))
        return
    ray.init(
        address="local",
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        logging_level=logging.WARNING,
    )


if __name__ == "__main__":
    sys.exit(main())
