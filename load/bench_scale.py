"""The scale-out benchmark (issue 13): MaiRust with front-ends on 1 and on 2 nodes, and 1, 2
and 4 pipeline workers, beside Postfix durable accept, in the same run.

Owns the run: for each configuration a fresh Ray cluster on 127.0.0.1 (``ray.cluster_utils``:
a head and 1 or 2 nodes with the ``smtp`` resource, their ports in their labels), ``mairust
cluster up`` on it, a warm-up, then per repeat the reference load (``load.reference``: 5 KiB,
``smtp-source``, a connection per message) split evenly over the front-ends, sent at once,
until MaiRust's queue is drained; the CPU seconds of every process of the cluster (read from
/proc before and after, per component: ``load.scale_cpu``) over that window; accepted msg/s
is messages ÷ the wall time of the ``smtp-source`` runs. The ratio printed at the end is the
2-node CPU per message over the 1-node one, at each worker count, against its 1.1 target.

Postfix durable accept (``load.reference_targets``) needs root: without it that row is left
out (``--no-postfix`` leaves it out on purpose). ``python -m load.bench_scale --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from load.cluster_up_output import follow_output
from load.loopback_ray import add_smtp_node, start_head
from load.mairust_target import add_users, mairust_binary, production_config
from load.reference import (
    ReferenceRun,
    Sender,
    run_smtp_source,
    smtp_source_command,
    write_message_file,
)
from load.reference_targets import postfix_durable, queue_stats
from load.scale_cpu import (
    CLIENT,
    ConfigResult,
    cpu_by_component,
    cpu_by_title,
    markdown,
    plural,
    pooled,
    ratio_lines,
    ratios,
    to_json,
    tree_cpu,
)
from load.targets import free_loopback_port, machine_line

log = logging.getLogger("load.bench_scale")

ADMIN_TOKEN = "bench-scale-admin-token"


class Platform:
    """``mairust cluster up`` on a fresh Ray cluster of a head and ``nodes`` SMTP nodes."""

    def __init__(
        self, binary: str, nodes: int, workers: int, scratch: Path, stores: str = ""
    ) -> None:
        self.binary, self.nodes, self.workers, self.scratch = binary, nodes, workers, scratch
        self.stores = stores  # config sections naming production stores; "": embedded
        self.smtp_ports: list[int] = []
        self.api_port = free_loopback_port()
        self.data_dir = scratch / "data"
        self.config = scratch / "mairust.toml"
        self.output: list[str] = []

    @contextmanager
    def running(self, startup_timeout: float) -> Iterator[Platform]:
        ray_temp = tempfile.mkdtemp(prefix="mr-bs-", dir="/tmp")  # short: Ray's Unix sockets
        self.ray_temp = ray_temp
        cluster = start_head(ray_temp)
        process: subprocess.Popen[str] | None = None
        try:
            for _ in range(self.nodes):
                self.smtp_ports.append(add_smtp_node(cluster)[1])
            self.config.write_text(
                self.stores + f"[smtp]\nport = {free_loopback_port()}\n"
                f"submission_port = {free_loopback_port()}\n"
                f"[api]\nport = {self.api_port}\n"
                f'[dns]\nnameservers = ["127.0.0.1"]\nport = {free_loopback_port()}\n'
                "timeout = 0.5\n"
                f"[cluster]\npipeline_workers = {self.workers}\n"
            )
            args = ["cluster", "up", "--address", cluster.address, "--domain", "example.test"]
            process = subprocess.Popen(
                [
                    self.binary,
                    *args,
                    "--data-dir",
                    str(self.data_dir),
                    "--config",
                    str(self.config),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "MAIRUST_ADMIN_TOKEN": ADMIN_TOKEN},
            )
            self._wait_ready(process, startup_timeout)
            yield self
        finally:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(120)
                except subprocess.TimeoutExpired:
                    process.kill()  # the `mairust cluster up` this benchmark started
                    process.wait(30)
            cluster.shutdown()
            shutil.rmtree(ray_temp, ignore_errors=True)

    def _wait_ready(self, process: subprocess.Popen[str], timeout: float) -> None:
        ready = follow_output(process, self.output)
        if not ready.wait(timeout) or process.poll() is not None:
            raise RuntimeError("`mairust cluster up` not ready:\n" + "".join(self.output[-30:]))

    def queue(self) -> dict[str, int]:
        return queue_stats(self.api_port, ADMIN_TOKEN)


def children_cpu() -> float:
    """User + system CPU seconds of every child process this one has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def drained(platform: Platform, total: int, deadline: float) -> None:
    """Until MaiRust has passed on ``total`` messages and holds none queued or leased."""
    give_up = time.monotonic() + deadline
    last: dict[str, int] = {}
    while True:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            last = await asyncio.to_thread(platform.queue)  # the API may still be starting
        through = last.get("done", 0) + last.get("failed", 0)
        if through >= total and last.get("queued", 0) + last.get("leased", 0) == 0:
            return
        if time.monotonic() > give_up:
            raise RuntimeError(f"MaiRust's queue not drained: {last}")
        await asyncio.sleep(0.25)


def split(messages: int, sessions: int, fronts: int) -> tuple[list[int], int]:
    """Messages for each front-end (the rest one each to the first ones) and the sessions of
    each ``smtp-source`` (at least one)."""
    share, rest = divmod(messages, fronts)
    return [share + (1 if i < rest else 0) for i in range(fronts)], max(1, sessions // fronts)


async def split_load(
    run: ReferenceRun, ports: list[int], messages: int, file: Path
) -> tuple[int, float]:
    """``messages`` over the front-ends at once, sessions shared out; (accepted, seconds)."""
    counts, sessions = split(messages, run.sessions[0], len(ports))
    started = time.perf_counter()
    runs = await asyncio.gather(
        *(
            run_smtp_source(
                smtp_source_command(run, port, sessions, count, file), count, run.deadline
            )
            for port, count in zip(ports, counts, strict=True)
            if count > 0  # smtp-source -m 0 would not mean "none"
        )
    )
    seconds = time.perf_counter() - started
    problems = [r.problem for r in runs if r.problem is not None]
    if problems:
        raise RuntimeError("; ".join(problems))
    return sum(r.accepted for r in runs), seconds


async def measure_config(
    binary: str,
    run: ReferenceRun,
    nodes: int,
    workers: int,
    file: Path,
    startup: float,
    production: bool = False,
) -> ConfigResult:
    result = ConfigResult(nodes, workers)
    with tempfile.TemporaryDirectory(prefix="mairust-scale-") as scratch:
        # --production: a new PostgreSQL database, S3 bucket and OpenSearch index each time.
        stores = production_config(Path(scratch)).read_text() if production else ""
        platform = Platform(binary, nodes, workers, Path(scratch), stores)
        log.info("%s: starting the cluster and `mairust cluster up`", result.label)
        try:
            with platform.running(startup):
                problem = await asyncio.to_thread(
                    add_users, binary, platform.data_dir, [run.recipient], platform.config
                )
                if problem is not None:
                    raise RuntimeError(problem)
                sent = 0
                if run.warmup:
                    accepted, _ = await split_load(run, platform.smtp_ports, run.warmup, file)
                    sent += accepted
                    await drained(platform, sent, run.deadline)
                    log.info("%s: warm-up of %d messages passed on", result.label, accepted)
                for repeat in range(1, run.repeats + 1):
                    before = tree_cpu(os.getpid(), platform.ray_temp)
                    clients_before = children_cpu()
                    accepted, seconds = await split_load(
                        run, platform.smtp_ports, run.messages, file
                    )
                    sent += accepted
                    await drained(platform, sent, run.deadline)
                    after = tree_cpu(os.getpid(), platform.ray_temp)
                    cpu = cpu_by_component(before, after)
                    # smtp-source has exited and been waited for by now: /proc no longer has
                    # it, the kernel's sum over this process's waited-for children does.
                    cpu[CLIENT] = cpu.get(CLIENT, 0.0) + children_cpu() - clients_before
                    result.add(accepted, seconds, cpu, cpu_by_title(before, after))
                    log.info(
                        "%s: repeat %d/%d: %.0f msg/s accepted, %.2f CPU-s per 1,000 messages",
                        result.label,
                        repeat,
                        run.repeats,
                        accepted / seconds,
                        sum(v for k, v in cpu.items() if k != "load client") * 1000 / accepted,
                    )
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log.error("%s: %s", result.label, exc)
            result.problem = str(exc).splitlines()[0]
    return result


async def measure_postfix(run: ReferenceRun, workdir: Path, file: Path) -> float | None:
    """Postfix durable accept's median msg/s at the same load (one front-end), or None."""
    log.info("Postfix durable accept: starting")
    try:
        async with postfix_durable(run, workdir) as endpoint:
            sender = Sender(run, endpoint, file)
            if run.warmup:
                await sender.send(run.sessions[0], run.warmup)
            rates = []
            for _ in range(run.repeats):
                client_run = await sender.send(run.sessions[0], run.messages)
                if client_run.problem is not None:
                    raise RuntimeError(client_run.problem)
                rates.append(client_run.rate)
                log.info("Postfix durable accept: %.0f msg/s accepted", client_run.rate)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        log.error("Postfix durable accept: %s", exc)
        return None
    return sorted(rates)[len(rates) // 2]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Run as root for the Postfix reference (a private Postfix instance is started "
        "with `postfix -c DIR start`); without root the Postfix row is left out.",
    )
    parser.add_argument("--messages", type=int, default=3000, help="messages a repeat (3000)")
    parser.add_argument(
        "--sessions", type=int, default=20, help="sessions, shared by the front-ends (20)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="measured repeats a configuration (3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=300, help="warm-up messages a configuration (300)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="times to measure every configuration (1); each round measures the 1- and "
        "2-node configurations of a worker count one after the other, so the machine's "
        "drift falls on both; the table pools the rounds, the ratios are given per round too",
    )
    parser.add_argument("--nodes", default="1,2", help="front-end node counts (1,2)")
    parser.add_argument("--workers", default="1,2,4", help="pipeline worker counts (1,2,4)")
    parser.add_argument(
        "--production",
        action="store_true",
        help="PostgreSQL + S3 + OpenSearch (MAIRUST_TEST_* set, as by .ci/with-services.sh) "
        "instead of the embedded stores",
    )
    parser.add_argument("--no-postfix", action="store_true", help="leave Postfix out")
    parser.add_argument(
        "--deadline", type=float, default=600.0, help="seconds a client run or drain may take"
    )
    parser.add_argument("--startup-timeout", type=float, default=240.0)
    parser.add_argument("--mairust", help="the mairust command (default: .venv/bin/mairust)")
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    binary = mairust_binary(args.mairust)
    if binary is None:
        print("no mairust command found; pass --mairust", file=sys.stderr)
        return 2
    nodes = [int(n) for n in args.nodes.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    run = replace(
        ReferenceRun(),
        messages=args.messages,
        sessions=(args.sessions,),
        warmup=args.warmup,
        repeats=args.repeats,
        deadline=args.deadline,
    )
    load_before = os.getloadavg()[0]
    rounds: list[list[ConfigResult]] = []
    with tempfile.TemporaryDirectory(prefix="mairust-bench-scale-") as work:
        file = write_message_file(Path(work), run)
        postfix = None
        if not args.no_postfix:
            if os.geteuid() != 0:
                log.warning("not root: Postfix durable accept left out")
            else:
                postfix = asyncio.run(measure_postfix(run, Path(work), file))
        for number in range(1, args.rounds + 1):
            if args.rounds > 1:
                log.info("round %d of %d", number, args.rounds)
            measured = [
                asyncio.run(
                    measure_config(binary, run, n, w, file, args.startup_timeout, args.production)
                )
                for w in workers
                for n in nodes
            ]
            rounds.append(measured)
            for line in ratio_lines(measured):
                log.info("round %d: %s", number, line)
    # The table's order: by nodes, then workers.
    results = sorted(pooled(rounds), key=lambda r: (r.nodes, r.workers))
    note = (
        f"{machine_line(load_before)}; {args.messages} messages x {args.repeats} repeats "
        "a configuration, "
        f"{args.sessions} sessions shared by the front-ends, 5 KiB, smtp-source, "
        f"{args.rounds} round{plural(args.rounds)} pooled, "
        f"{'PostgreSQL + S3 + OpenSearch' if args.production else 'embedded stores'}."
    )
    table = markdown(results, postfix, note)
    if args.rounds > 1:
        per_round = [
            f"- round {number}: " + "; ".join(ratio_lines(measured))
            for number, measured in enumerate(rounds, 1)
        ]
        table += "\n2-node ÷ 1-node CPU/msg of each round:\n\n" + "\n".join(per_round) + "\n"
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        meta = {
            "messages": args.messages,
            "repeats": args.repeats,
            "sessions": args.sessions,
            "production": args.production,
            "rounds": args.rounds,
            "ratios_of_each_round": [
                {str(w): v for w, v in ratios(measured).items()} for measured in rounds
            ],
        }
        args.json.write_text(json.dumps(to_json(results, postfix, meta), indent=2) + "\n")
    for line in ratio_lines(results):
        print(line)
    return 0 if all(r.problem is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
