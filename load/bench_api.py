"""API benchmark: the tenant API through the real Ray Serve HTTP ingress of ``mairust up``,
beside trivial "hello" applications in the same Serve, on a 10,000-message mailbox.

Each pass (embedded: SQLite + files + FTS5; production: PostgreSQL + S3 + OpenSearch on the
MAIRUST_TEST_* servers, in a new database, prefix and index removed afterwards) seeds one
mailbox (``load.api_seed``), starts ``mairust up`` with the per-token rate limit off, gets a
``user`` read token for the mailbox from ``POST /api/v1/tokens``, deploys the two hello apps
into its Serve (``load.serve_hello``: a bare deployment, and a one-route FastAPI app behind
``@serve.ingress`` as the API is deployed), then measures with httpx:

- closed loop, ``--clients`` (32) clients for ``--seconds`` each: both hellos, ``/healthz`` of the
  MaiRust app (FastAPI, no auth, no store), list messages (a page of 50 before a random
  entry), read a random message, search a word that ~200 messages hold, and the GraphQL
  messages list (50): req/s, p50, p99, the ratio of req/s to hello's (target >= 0.7x), and
  the CPU milliseconds a request cost Serve's HTTP proxy, the replica and this client;
- open loop at ``--rate`` (200) req/s for ``--open-seconds``: hello, list and read, p50 and
  p99 from when each request was due (target p99 < 50 ms for list and read; hello's row
  says whether Serve alone meets it at that rate on this machine).

Optionally (``--profile SECONDS``) py-spy records the API replica during an extra, unmeasured
list run and the summary says where its time goes. Targets are reported as PASS/MISS words,
never asserted. Loopback only; every run is bounded in time.

``python -m load.bench_api --help``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from load.api_load import ApiOperations, Seeded, http_client, loopback_base_url, run_closed
from load.api_profile import profile_table, start_recording
from load.api_seed import SEEDED_HOW, Pass, embedded_pass, production_pass, seed_mailbox
from load.api_stats import OpResult, Send, closed_loop_table, open_loop_table, run_paced
from load.mairust_target import log_tail, mairust_binary, running_mairust_up
from load.processes import session_cpu
from load.serve_hello import HelloPaths, hello_beside
from load.targets import free_loopback_port, machine_line, wait_for_greeting

log = logging.getLogger("load.bench_api")

ADMIN_TOKEN = "bench-api-admin-token"
HELLO = "hello (bare Serve)"
FASTAPI_HELLO = "hello (FastAPI on Serve)"
# Each yardstick's own replica (a Serve application of the benchmark); the rest are the API's.
REPLICA_OF = {HELLO: "bench-hello", FASTAPI_HELLO: "bench-hello-fastapi"}
# Hello first: what Serve alone answers at the rate, so a miss of the platform's rows can be
# told from a rate this machine's Serve cannot carry at all.
LIST = "list messages (page of 50)"
OPEN_LOOP = (HELLO, LIST, "read message")
PRODUCTION_VARIABLES = (
    "MAIRUST_TEST_POSTGRES_URL",
    "MAIRUST_TEST_S3_URL",
    "MAIRUST_TEST_OPENSEARCH_URL",
)


def cpu_by_role(sid: int, replica: str) -> dict[str, float]:
    """CPU seconds so far of Serve's HTTP proxy, of the replica named ``replica`` and of the
    rest of the session, plus this process (the client)."""
    totals = {"proxy": 0.0, "replica": 0.0, "other": 0.0}
    for name, seconds in session_cpu(sid).values():
        if "ProxyActor" in name:
            totals["proxy"] += seconds
        elif f"ServeReplica:{replica}:" in name:
            totals["replica"] += seconds
        else:
            totals["other"] += seconds
    totals["client"] = time.process_time()
    return totals


@contextlib.contextmanager
def cpu_of(result: OpResult, sid: int, replica: str) -> Iterator[None]:
    before = cpu_by_role(sid, replica)
    yield
    after = cpu_by_role(sid, replica)
    result.cpu_seconds = {role: after[role] - before[role] for role in after}


def replica_pid(sid: int, app: str) -> int | None:
    for pid, (name, _) in session_cpu(sid).items():
        if f"ServeReplica:{app}:" in name:
            return pid
    return None


async def wait_for_api(base_url: str, seconds: float) -> None:
    give_up = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < give_up:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"/healthz did not answer 200 within {seconds:.0f} s")


async def user_token(base_url: str, seeded: Seeded) -> str:
    """A ``user`` token with read permission for the seeded mailbox, from the API itself."""
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as admin:
        created = await admin.post(
            "/api/v1/tokens",
            json={
                "name": "bench-api reader",
                "permissions": ["read"],
                "role": "user",
                "mailbox_id": seeded.mailbox_id,
            },
        )
        if created.status_code != 201:
            raise RuntimeError(f"POST /api/v1/tokens: {created.status_code} {created.text}")
        token: str = created.json()["token"]
        return token


async def measure_pass(
    args: argparse.Namespace,
    base_url: str,
    sid: int,
    seeded: Seeded,
    token: str,
    hello: HelloPaths,
    pass_name: str,
) -> tuple[list[OpResult], list[OpResult], str]:
    closed: list[OpResult] = []
    opened: list[OpResult] = []
    profile = ""
    async with http_client(base_url, token, args.clients) as client:
        operations = ApiOperations(client, seeded, hello.bare, hello.fastapi).by_name()
        for name, send in operations.items():
            replica = REPLICA_OF.get(name, "api")
            await run_closed(OpResult(name, "closed"), send, args.clients, args.warmup)
            result = OpResult(name, "closed")
            with cpu_of(result, sid, replica):
                await run_closed(result, send, args.clients, args.seconds)
            log.info("%s: %.0f req/s, p99 %s ms", name, result.throughput, result.p(99))
            closed.append(result)
    # Room for every request that may be in flight at once at these rates.
    async with http_client(base_url, token, max(args.clients, 128)) as client:
        operations = ApiOperations(client, seeded, hello.bare, hello.fastapi).by_name()
        for rate in args.rate:
            for name in OPEN_LOOP:
                result = OpResult(name, "open")
                with cpu_of(result, sid, REPLICA_OF.get(name, "api")):
                    await run_paced(result, operations[name], rate, int(rate * args.open_seconds))
                log.info("%s at %.0f req/s: p99 %s ms", name, rate, result.p(99))
                opened.append(result)
        if args.profile > 0:
            profile = await profile_list(args, sid, operations[LIST], pass_name)
    return closed, opened, profile


async def profile_list(args: argparse.Namespace, sid: int, send: Send, pass_name: str) -> str:
    """py-spy on the API replica during an extra closed-loop list run (not counted)."""
    pid = replica_pid(sid, "api")
    with tempfile.TemporaryDirectory(prefix="bench-api-profile-") as scratch:
        output = Path(scratch) / "list.txt"
        recorder = start_recording(pid, args.profile, output) if pid else None
        if recorder is None:
            return "(py-spy not found, or no API replica)"
        await run_closed(OpResult("profiled", "closed"), send, args.clients, args.profile + 1)
        _, problem = recorder.communicate(timeout=60)
        if not output.exists():
            return f"(py-spy failed: {problem.decode(errors='replace').strip()[-300:]})"
        if args.profile_stacks is not None:
            kept = args.profile_stacks.with_suffix(f".{pass_name.split()[0]}.txt")
            shutil.copyfile(output, kept)
            log.info("py-spy stacks of the %s pass kept in %s", pass_name, kept)
        return profile_table(output.read_text())


def run_pass(args: argparse.Namespace, binary: str, context: Pass) -> str:
    """Seed, start, measure, stop one pass; its report as Markdown."""
    context.data_dir.mkdir(parents=True, exist_ok=True)
    seeding = time.monotonic()
    seeded = seed_mailbox(context.settings(), args.messages)
    seeded_in = time.monotonic() - seeding
    log.info("%s: %d messages seeded in %.1f s", context.name, args.messages, seeded_in)
    smtp_port, api_port = free_loopback_port(), free_loopback_port()
    base_url = loopback_base_url("127.0.0.1", api_port)
    log_file = context.data_dir / "mairust-up.log"
    with running_mairust_up(
        binary, context.data_dir, smtp_port, context.config_file, api_port=api_port
    ) as process:
        try:
            asyncio.run(wait_for_greeting(smtp_port, process, within_seconds=args.startup))
            asyncio.run(wait_for_api(base_url, args.startup))
            token = asyncio.run(user_token(base_url, seeded))
            with hello_beside(process.pid) as hello:
                load_before = os.getloadavg()[0]
                closed, opened, profile = asyncio.run(
                    measure_pass(args, base_url, process.pid, seeded, token, hello, context.name)
                )
        except (RuntimeError, httpx.HTTPError, OSError) as problem:
            log.error("%s failed: %s\n%s", context.name, problem, log_tail(log_file))
            return f"### {context.name}\n\nnot run: {problem}\n"
    parts = [
        f"### {context.name}",
        "",
        f"{args.messages} messages in one mailbox, {SEEDED_HOW}: {seeded_in:.0f} s.",
        "",
        f"1-min load average when the measurements began: {load_before:.2f}. "
        f"Closed loop, {args.clients} clients, {args.seconds:g} s each after "
        f"{args.warmup:g} s of warm-up:",
        "",
        closed_loop_table(closed, HELLO),
        "",
        f"Open loop, {args.open_seconds:g} s at each rate (latency from when each request was "
        "due; requests unanswered 5 s after the last send count as errors):",
        "",
        open_loop_table(opened),
    ]
    for result in closed + opened:
        if result.error_examples:
            parts += ["", f"{result.name} ({result.mode}) errors: {result.error_examples}"]
    if profile:
        heading = f"py-spy, API replica, closed-loop list for {args.profile:g} s (GIL holder only):"
        parts += ["", heading, ""]
        parts.append(profile)
    return "\n".join(parts) + "\n"


def _rates(text: str) -> list[float]:
    rates = [float(word) for word in text.split(",") if word.strip()]
    if not rates or not all(0 < rate <= 2000 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be in (0, 2000] req/s")
    return rates


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", default="embedded,production", help="embedded,production")
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the mailbox")
    parser.add_argument("--clients", type=int, default=32, help="closed-loop clients")
    parser.add_argument("--seconds", type=float, default=8.0, help="closed-loop run per op")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per op")
    parser.add_argument(
        "--rate", type=_rates, default=[200.0], help="open-loop requests/s; a list: 200,40"
    )
    parser.add_argument("--open-seconds", type=float, default=10.0, help="open-loop run per op")
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy seconds (0: off)")
    parser.add_argument(
        "--profile-stacks",
        type=Path,
        default=None,
        help="also keep py-spy's collapsed stacks, one file per pass: <name>.embedded.txt, ...",
    )
    parser.add_argument("--startup", type=float, default=180.0, help="seconds for mairust up")
    parser.add_argument("--mairust", help="the mairust command (default: .venv/bin/mairust)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "botocore", "opensearch", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    passes = [name.strip() for name in args.passes.split(",") if name.strip()]
    if not set(passes) <= {"embedded", "production"} or not (
        1 <= args.clients <= 256 and 0 < args.seconds <= 120 and 0 < args.open_seconds <= 120
    ):
        parser.error("bad --passes, or --clients/--seconds/--open-seconds out of bounds")
    if "production" in passes and not all(os.environ.get(v) for v in PRODUCTION_VARIABLES):
        parser.error(f"the production pass needs {', '.join(PRODUCTION_VARIABLES)}")
    binary = mairust_binary(args.mairust)
    if binary is None:
        parser.error("no mairust command found; pass --mairust")
    with _bench_process_state():
        return _run(args, passes, binary, argv)


@contextlib.contextmanager
def _bench_process_state() -> Iterator[None]:
    """The admin token every `mairust up` of the run inherits, and SIGTERM (a `timeout`)
    unwinding like Ctrl-C (mairust up stopped, the database dropped); both put back after,
    since a caller in the same process (a pytest worker) starts other `mairust up`s that
    must write their own token file."""
    saved_token = os.environ.get("MAIRUST_ADMIN_TOKEN")
    saved_handler = signal.signal(signal.SIGTERM, _interrupt)
    os.environ["MAIRUST_ADMIN_TOKEN"] = ADMIN_TOKEN
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved_handler)
        if saved_token is None:
            os.environ.pop("MAIRUST_ADMIN_TOKEN", None)
        else:
            os.environ["MAIRUST_ADMIN_TOKEN"] = saved_token


def _run(args: argparse.Namespace, passes: list[str], binary: str, argv: list[str] | None) -> int:
    report = [
        f"`python -m load.bench_api {shlex.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        machine_line(os.getloadavg()[0]),
        "",
    ]
    started = time.monotonic()
    failed = False
    for name in passes:
        with tempfile.TemporaryDirectory(prefix="mairust-bench-api-") as scratch:
            setup = embedded_pass if name == "embedded" else production_pass
            with setup(Path(scratch)) as context:
                section = run_pass(args, binary, context)
        failed = failed or "not run:" in section
        print(section, flush=True)
        report.append(section)
    report.append(f"Whole run: {time.monotonic() - started:.0f} s.")
    text = "\n".join(report)
    print(report[-1])
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
