"""The hooks benchmark: what synchronous ``pre_receive`` plugins cost the accept path.

In one run, each target started once, warmed up and measured with the reference protocol
(``load.reference``: ``smtp-source``, 5 KiB, a connection per message, median of repeats):

- Postfix durable accept (the reference every ratio of the project is taken against);
- ``mairust up`` (embedded, checks off) with no plugin bound;
- the same with 1 and with 3 no-op plugins bound at ``pre_receive`` over the ``http``
  transport (``load.noop_plugin``: answers ``continue`` at once, in its own process), and
  over the ``serve`` transport (a plugin written with the SDK, each its own Serve
  application with one replica), over the ``stdin`` transport (a child process of each
  front-end answering JSON lines) and over the ``grpc`` transport (a ``grpc.aio`` server in
  its own process), with every call recorded as in production;
- the same with three bundled plugins that do real work bound at once: ``spam-filter``
  (serve, pre_receive), ``rspamd`` (http to the real Rspamd of ``--rspamd-url``, default
  ``$MAIRUST_TEST_RSPAMD_URL`` as ``.ci/services`` starts it, pre_receive) and ``dnsbl``
  (serve, connect; one blocklist served by ``load.nxdomain_dns``: no client is listed);
- with one ``webhook`` plugin at ``post_receive`` (every message posted, signed, through the
  webhook outbox to the no-op http service): a webhook gives no verdict, so it is not on
  the SMTP transaction's path; its row shows what the job and the outbox cost the platform,
  and its figures what one call (an enqueue) takes;
- in the no-plugin target's Serve, the floor under the ``serve`` transport
  (``load.serve_floor``): a bare Serve call's round trip at one caller and its CPU at the
  no-plugin accept rate, and what that leaves of the no-plugin rate on this machine's cores
  at one call a message (``--floor-seconds 0``: not measured).

For each ``mairust`` target it reports accepted msg/s (and the ratio to the no-plugin rate:
the issue's targets are ≥ 0.9x with 1 plugin and ≥ 0.8x with 3), the transaction latency
(MAIL FROM to the 250 after DATA) at the throughput concurrency and at one session, the
latency added over the no-plugin target at one session (what one call costs when nothing
queues), and where the time went per plugin: its calls and latency from the platform's own
figures (``GET /api/v1/admin/plugins/{name}/figures``).

``python -m load.bench_hooks --help``. Tests run it tiny; they never assert timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from load.mairust_target import mairust_command
from load.noop_plugin import (
    write_plugin_dir,
    write_serve_plugin_dir,
    write_stdin_plugin_dir,
    write_webhook_plugin_dir,
)
from load.reference import (
    Endpoint,
    PointResult,
    ReferenceRun,
    Sender,
    Spread,
    measure_point,
    ratio,
    write_message_file,
)
from load.reference_targets import TargetOptions, mairust_up, postfix_durable
from load.serve_floor import FloorResult, floor_paragraph, measure_floor
from load.smtp_load import LoadResult
from load.targets import free_loopback_port, machine_line, start_target, stop_process
from mairust.hooks.manifest import load_manifest
from mairust.webhooks.signing import generate_secret

log = logging.getLogger("load.bench_hooks")

HOOKS_CONFIG = (
    '[hooks]\nallow_networks = ["127.0.0.0/8"]\n'
    '[webhooks]\nallow_networks = ["127.0.0.0/8"]\nallow_http = true\n'
)
PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
BUNDLED = ("spam-filter", "rspamd", "dnsbl")
TARGET_RATIOS = {1: 0.9, 3: 0.8}  # the floors: with N plugins, x the no-plugin rate


@dataclass(frozen=True)
class HookTarget:
    key: str
    name: str
    transport: str  # "" for no plugin (and for Postfix)
    plugins: int


TARGETS: dict[str, HookTarget] = {
    t.key: t
    for t in (
        HookTarget("postfix", "Postfix durable accept", "", 0),
        HookTarget("none", "mairust up, no plugin", "", 0),
        HookTarget("http-1", "mairust up, 1 no-op http plugin", "http", 1),
        HookTarget("http-3", "mairust up, 3 no-op http plugins", "http", 3),
        HookTarget("serve-1", "mairust up, 1 no-op serve plugin", "serve", 1),
        HookTarget("serve-3", "mairust up, 3 no-op serve plugins", "serve", 3),
        HookTarget("stdin-1", "mairust up, 1 no-op stdin plugin", "stdin", 1),
        HookTarget("stdin-3", "mairust up, 3 no-op stdin plugins", "stdin", 3),
        HookTarget("grpc-1", "mairust up, 1 no-op grpc plugin", "grpc", 1),
        HookTarget("grpc-3", "mairust up, 3 no-op grpc plugins", "grpc", 3),
        HookTarget("webhook-1", "mairust up, 1 webhook plugin at post_receive", "webhook", 1),
        HookTarget("bundled", "mairust up, spam-filter + rspamd + dnsbl", "bundled", 3),
    )
}
DEFAULT_TARGETS = tuple(TARGETS)


@dataclass
class TargetResult:
    target: HookTarget
    point: PointResult
    one_session: LoadResult | None = None
    # Per plugin: its figures at pre_receive (enforce), as the API reports them.
    figures: dict[str, dict[str, object]] = field(default_factory=dict)
    floor: FloorResult | None = None  # measured beside the no-plugin target


@contextlib.contextmanager
def nxdomain_dns_service() -> Iterator[int]:
    """The blocklist's DNS server (every name: NXDOMAIN) in its own process; its port."""
    port = free_loopback_port()
    command = [sys.executable, "-m", "load.nxdomain_dns", "--port", str(port)]
    process = start_target(command, subprocess.DEVNULL)
    try:
        yield port
    finally:
        stop_process(process, grace=5.0)


def bundled_installer(
    rspamd_url: str, dns_port: int
) -> Callable[[str, Path, Path | None], str | None]:
    """``mairust up``'s extra set-up for the bundled target: spam-filter and dnsbl from
    plugins/, rspamd pointed at ``rspamd_url``, dnsbl configured with one blocklist on
    ``dns_port`` and enabled (each installed bound at its manifest's points)."""

    def install(binary: str, data_dir: Path, config_file: Path | None) -> str | None:
        rspamd = data_dir / "bench-plugins" / "rspamd"
        shutil.copytree(PLUGINS_DIR / "rspamd", rspamd)
        manifest = rspamd / "plugin.toml"
        manifest.write_text(
            manifest.read_text().replace(
                "http://127.0.0.1:11333/checkv2", f"{rspamd_url.rstrip('/')}/checkv2"
            )
        )
        dnsbl = {
            "zones": ["bl.bench.test"],
            "resolver": {"address": "127.0.0.1", "port": dns_port},
            "timeout_ms": 500,
        }
        steps = [
            ["plugin", "install", str(PLUGINS_DIR / "spam_filter")],
            ["plugin", "install", str(rspamd)],
            ["plugin", "install", str(PLUGINS_DIR / "dnsbl")],
            ["plugin", "configure", "dnsbl", json.dumps(dnsbl)],
            ["plugin", "enable", "dnsbl"],
        ]
        for step in steps:
            problem = mairust_command(binary, data_dir, step, config_file)
            if problem is not None:
                return problem
        return None

    return install


def install_webhook_plugin(
    binary: str, data_dir: Path, config_file: Path | None, directory: Path
) -> str | None:
    """Install the webhook plugin in ``directory``, give it a signing secret (read from
    standard input by the CLI) and enable it; what went wrong, if anything."""
    name = load_manifest(directory).plugin.name
    problem = mairust_command(binary, data_dir, ["plugin", "install", str(directory)], config_file)
    if problem is not None:
        return problem
    extra = ["--config", str(config_file)] if config_file else []
    done = subprocess.run(
        [binary, "plugin", "secret", "set", name, "signing", "--data-dir", str(data_dir), *extra],
        input=generate_secret().encode(),
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0:
        return f"`mairust plugin secret set {name}` failed: {done.stderr.decode().strip()}"
    return mairust_command(binary, data_dir, ["plugin", "enable", name], config_file)


@contextlib.contextmanager
def noop_plugin_service(grpc: bool = False) -> Iterator[int]:
    """A no-op plugin service (http, or with ``grpc`` the gRPC one) in its own process on a
    free loopback port."""
    port = free_loopback_port()
    command = [sys.executable, "-m", "load.noop_plugin", "--port", str(port)]
    process = start_target([*command, "--grpc"] if grpc else command, subprocess.DEVNULL)
    try:
        yield port
    finally:
        stop_process(process, grace=5.0)


def installer(
    names: Sequence[str], transport: str, port: int | None = None
) -> Callable[[str, Path, Path | None], str | None]:
    """``mairust up``'s extra set-up: install each no-op plugin of ``transport`` (it binds
    at pre_receive); an http one answers on ``port``."""

    def install(binary: str, data_dir: Path, config_file: Path | None) -> str | None:
        for priority, name in enumerate(names):
            where = data_dir / "bench-plugins" / name
            if transport == "webhook":
                assert port is not None
                problem = install_webhook_plugin(
                    binary, data_dir, config_file, write_webhook_plugin_dir(where, name, port)
                )
                if problem is not None:
                    return problem
                continue
            if transport in ("http", "grpc"):
                assert port is not None
                directory = write_plugin_dir(where, name, port, priority, grpc=transport == "grpc")
            elif transport == "stdin":
                directory = write_stdin_plugin_dir(where, name, priority)
            else:
                directory = write_serve_plugin_dir(where, name, priority)
            problem = mairust_command(
                binary, data_dir, ["plugin", "install", str(directory)], config_file
            )
            if problem is not None:
                return problem
        return None

    return install


async def plugins_answering(
    sender: Sender, api: tuple[str, str], names: Sequence[str], options: TargetOptions
) -> None:
    """Send a few messages at a time until every plugin has answered a call: a serve
    plugin's application is deployed after `mairust up` starts."""
    give_up = asyncio.get_running_loop().time() + options.startup_timeout
    while True:
        await sender.send(1, 2)
        await asyncio.sleep(1.5)  # calls are recorded in batches of <= 1 s
        answered = [_answered(await asyncio.to_thread(plugin_figures, api, name)) for name in names]
        if all(answered):
            return
        if asyncio.get_running_loop().time() > give_up:
            waiting = [name for name, n in zip(names, answered, strict=True) if not n]
            raise RuntimeError(f"serve plugins not answering: {', '.join(waiting)}")


def _answered(figures: dict[str, object]) -> int:
    outcomes = figures.get("by_outcome")
    return int(outcomes.get("answered", 0)) if isinstance(outcomes, dict) else 0


def plugin_figures(api: tuple[str, str], name: str) -> dict[str, object]:
    """The plugin's figures where it is bound in enforce mode (pre_receive first)."""
    base, token = api
    request = urllib.request.Request(
        f"{base}/api/v1/admin/plugins/{name}/figures",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        figures: dict[str, object] = json.load(answer)
    points = [p for p in figures.get("points", []) if p["mode"] == "enforce"]  # type: ignore[attr-defined]
    points.sort(key=lambda p: p["point"] != "pre_receive")
    return dict(points[0]) if points else {}


@contextlib.asynccontextmanager
async def started(
    target: HookTarget,
    run: ReferenceRun,
    workdir: Path,
    options: TargetOptions,
    rspamd_url: str | None = None,
) -> AsyncIterator[tuple[Endpoint, list[str]]]:
    """The target's endpoint, and the names of the plugins bound on it (``rspamd_url``:
    the Rspamd the bundled target's rspamd plugin calls)."""
    if target.key == "postfix":
        async with postfix_durable(run, workdir) as endpoint:
            yield endpoint, []
        return
    names = [f"noop-{target.transport}-{n}" for n in range(target.plugins)]
    with contextlib.ExitStack() as stack:
        prepare = None
        if target.transport == "bundled":
            if not rspamd_url:
                raise RuntimeError("no Rspamd: give --rspamd-url or MAIRUST_TEST_RSPAMD_URL")
            names = list(BUNDLED)
            dns_port = stack.enter_context(nxdomain_dns_service())
            prepare = bundled_installer(rspamd_url, dns_port)
        elif target.transport in ("http", "grpc", "webhook"):
            service = noop_plugin_service(grpc=target.transport == "grpc")
            prepare = installer(names, target.transport, stack.enter_context(service))
        elif target.transport:
            prepare = installer(names, target.transport)
        async with mairust_up(run, options, HOOKS_CONFIG, prepare=prepare) as endpoint:
            yield endpoint, names


async def measure(
    targets: Sequence[HookTarget],
    run: ReferenceRun,
    sessions: int,
    one_session_messages: int,
    options: TargetOptions,
    workdir: Path,
    rspamd_url: str | None = None,
    floor_seconds: float = 0.0,
) -> list[TargetResult]:
    message_file = write_message_file(workdir, run)
    results: list[TargetResult] = []
    for target in targets:
        log.info("%s: starting", target.name)
        try:
            async with started(target, run, workdir, options, rspamd_url) as (endpoint, names):
                sender = Sender(run, endpoint, message_file)
                if target.transport in ("serve", "bundled") and endpoint.api is not None:
                    await plugins_answering(sender, endpoint.api, names, options)
                if run.warmup:
                    warm = await sender.send(sessions, run.warmup)
                    if warm.problem is not None:
                        raise RuntimeError(f"warm-up: {warm.problem}")
                result = TargetResult(target, await measure_point(target.name, sender, sessions))
                if target.key != "postfix":
                    # The same sender (it counts what the target has passed on).
                    sender.run = replace(sender.run, latency_messages=one_session_messages)
                    result.one_session = await sender.latency(1)
                    api = sender.endpoint.api
                    if api is not None and names:
                        await asyncio.sleep(1.5)  # calls are recorded in batches of ≤ 1 s
                        for name in names:
                            result.figures[name] = await asyncio.to_thread(
                                plugin_figures, api, name
                            )
                    accepted = result.point.accepted
                    if target.key == "none" and floor_seconds > 0 and accepted is not None:
                        assert endpoint.pid is not None  # a mairust target names its session
                        result.floor = await measure_floor(
                            endpoint.pid, accepted.median, floor_seconds
                        )
                results.append(result)
        except (RuntimeError, OSError) as exc:
            log.error("%s: %s", target.name, exc)
            results.append(
                TargetResult(target, PointResult(target.name, sessions, problem=str(exc)))
            )
    return results


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _spread(spread: Spread | None) -> str:
    if spread is None:
        return "-"
    return f"{spread.median:.0f} ({spread.minimum:.0f}-{spread.maximum:.0f})"


def _ratio(value: float | None, floor: float | None = None) -> str:
    if value is None:
        return "-"
    verdict = "" if floor is None else (" PASS" if value >= floor else " MISS")
    return f"{value:.2f}x{verdict}"


def markdown(results: Sequence[TargetResult], sessions: int) -> str:
    by_key = {r.target.key: r for r in results}
    postfix = by_key.get("postfix")
    bare = by_key.get("none")
    lines = [
        f"| target | accepted msg/s, {sessions} sessions (median, min-max) | x no plugin "
        f"(floor) | x Postfix | p50 / p99 ms at {sessions} | p50 / p99 ms at 1 session | "
        "added at 1 session, p50 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        point = result.point
        if point.problem is not None:
            lines.append(f"| {result.target.name} | failed: {point.problem} | | | | | |")
            continue
        # The floors are the synchronous no-op plugins' (issue 9's); none for the others.
        noop = result.target.transport not in ("", "bundled", "webhook")
        floor = TARGET_RATIOS.get(result.target.plugins) if noop else None
        versus_bare = (
            ratio(point.accepted, bare.point.accepted)
            if bare is not None and result.target.key not in ("postfix", "none")
            else None
        )
        versus_postfix = (
            ratio(point.accepted, postfix.point.accepted) if postfix is not None else None
        )
        at_load = point.latency
        alone = result.one_session
        base_alone = bare.one_session if bare is not None else None
        added = "-"
        if alone is not None and base_alone is not None and result.target.key != "none":
            added = " / ".join(
                _ms(_minus(alone.latency_percentile(p), base_alone.latency_percentile(p)))
                for p in (50, 99)
            )
        lines.append(
            f"| {result.target.name} | {_spread(point.accepted)} | "
            f"{_ratio(versus_bare, floor)} | {_ratio(versus_postfix)} | "
            f"{_pair(at_load)} | {_pair(alone)} | {added} |"
        )
    attributed = [r for r in results if r.figures]
    if attributed:
        lines += [
            "",
            "Where the time went, per plugin (the platform's figures where it is bound: "
            "pre_receive, dnsbl at connect; over the whole run: warm-up, throughput and "
            "latency runs):",
            "",
            "| target | plugin | calls | outcomes | mean ms | p50 ≤ ms | p99 ≤ ms |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for result in attributed:
            for name, figures in result.figures.items():
                lines.append(
                    f"| {result.target.name} | {name} | {figures.get('calls', 0)} | "
                    f"{figures.get('by_outcome', {})} | {figures.get('latency_mean_ms')} | "
                    f"{figures.get('latency_p50_at_most_ms')} | "
                    f"{figures.get('latency_p99_at_most_ms')} |"
                )
    if bare is not None and bare.floor is not None and bare.point.accepted is not None:
        cores = os.cpu_count() or 1
        paragraph = floor_paragraph(bare.floor, bare.point.accepted.median, cores, TARGET_RATIOS)
        lines += ["", paragraph]
    return "\n".join(lines)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _pair(result: LoadResult | None) -> str:
    if result is None:
        return "-"
    return f"{_ms(result.latency_percentile(50))} / {_ms(result.latency_percentile(99))}"


def _targets(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in TARGETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown target(s) {unknown}; known: {', '.join(TARGETS)}"
        )
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.bench_hooks",
        description="What synchronous pre_receive plugins cost the accept path: Postfix "
        "durable accept, `mairust up` with no plugin, and with 1 and 3 no-op plugins over "
        "http, serve, stdin and grpc, and with the bundled spam-filter + rspamd + dnsbl "
        "(every call recorded), side by side in one run on loopback, with the reference "
        "protocol (smtp-source, 5 KiB, a connection per message, median of --repeats). "
        "Reports msg/s and its ratio to the no-plugin rate, latency at --sessions and at one "
        "session, the latency one plugin call adds, and each plugin's own figures. Exit "
        "status 0 if every target ran, 1 otherwise.",
    )
    add = parser.add_argument
    add("--messages", type=int, default=3000, help="messages a measured run (default 3000)")
    add("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    add("--repeats", type=int, default=3, help="measured runs a target (default 3; median)")
    add("--warmup", type=int, default=300, help="unmeasured messages first (default 300)")
    add(
        "--one-session-messages",
        type=int,
        default=300,
        help="messages of the one-session latency run (default 300)",
    )
    add(
        "--targets",
        type=_targets,
        default=DEFAULT_TARGETS,
        help=f"comma-separated, in this order: {', '.join(TARGETS)} (default: all)",
    )
    add("--mairust", default=None, help="the mairust command (default .venv/bin/mairust)")
    add("--startup-timeout", type=float, default=180.0, help="seconds to start (default 180)")
    add(
        "--rspamd-url",
        default=os.environ.get("MAIRUST_TEST_RSPAMD_URL"),
        help="the Rspamd (http://127.0.0.1:PORT) the bundled target scans with (default: "
        "$MAIRUST_TEST_RSPAMD_URL, set by .ci/with-services.sh)",
    )
    add(
        "--floor-seconds",
        type=float,
        default=10.0,
        help="seconds of the serve floor's idle and paced windows, beside the no-plugin "
        "target (default 10; 0: not measured)",
    )
    add("--markdown", type=Path, default=None, help="also write the table to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    run = ReferenceRun(
        messages=args.messages,
        sessions=(args.sessions,),
        warmup=args.warmup,
        repeats=args.repeats,
        latency_messages=args.messages,
    )
    options = TargetOptions(mairust=args.mairust, startup_timeout=args.startup_timeout)
    targets = [TARGETS[key] for key in args.targets]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mairust-bench-hooks-") as tmp:
        results = asyncio.run(
            measure(
                targets,
                run,
                args.sessions,
                args.one_session_messages,
                options,
                Path(tmp),
                args.rspamd_url,
                args.floor_seconds,
            )
        )
    command = shlex.join(["python", "-m", "load.bench_hooks", *(argv or sys.argv[1:])])
    report = f"{machine_line(load_before)}\n\n`{command}`\n\n{markdown(results, args.sessions)}\n"
    print(report)
    if args.markdown is not None:
        args.markdown.write_text(report)
    return 0 if all(r.point.problem is None for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
