"""Scenario: PostgreSQL restarted twice under `mairust up` while mail arrives, on a private
server: stopped (`pg_ctl stop -m fast`) and started again, then crashed (kill -9 of every
server process, postmaster and backends) and started again (crash recovery at start).

A stopped server is not a hung one (test_e2e_postgres_hang.py): it closes every connection,
so every pooled connection of every process (front-end, dispatcher, pipeline workers,
indexer, API) is dead at once, and while it is down a new connection is refused at once.
test_e2e_storage_faults.py stops it under one sender that waits for each reply; here four
senders run throughout, the server stays down longer than a lease lasts, and what is left
afterwards is read from the tables themselves. What must hold:

- while it is down: only 4xx replies (451 4.3.0), no 5xx, no session dropped, no reply
  slower than the answer and connect deadlines allow, and /healthz answers 503;
- it comes back by itself (`mairust up` is not restarted): 250 again within
  RECOVERY_BOUND of the server's start, /healthz ok again;
- afterwards every message that got a 250 is delivered exactly once (one that got none is
  stored once or not at all), every queue row ends done, and no row of any leased table
  still carries a lease;
- the loops lived through it: `mairust cluster status --json` shows every MaiRust and Serve
  actor ALIVE with 0 restarts (a supervised loop that gives up exits its actor and Ray
  restarts it: the count would be 1 or more; an actor that died for good is not ALIVE),
  the log holds warnings but no error or traceback (a loop restarted in place by its
  supervisor shows only there), and mail accepted after the second restart was leased and
  delivered (the dispatcher and the workers worked on after the store came back);
- the log says so once per cache lifetime where the front-end's last hook bindings stand in
  for the store, not once per message.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mairust.hooks.points import HookPoint
from tests.integration.conftest import secrets_section
from tests.support.delivery_audit import audit, held_leases, queue_counts, server_settings
from tests.support.mail_load import Attempt, MailLoad
from tests.support.mairust_server import MairustServer, wait_for
from tests.support.services import PrivateService

LEASE_SECONDS = 5.0
STOP_SECONDS = 7.0  # longer than a lease: leases taken before the stop expire while it is down
CRASH_SECONDS = 3.0
ANSWER_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0  # libpq's least
# A stopped or killed server's connections are closed and a new one is refused, so no
# deadline should even be reached; a reply may wait for one of each at most (plus a loaded
# machine's slack), against the hang test's two of each.
REPLY_BOUND = ANSWER_TIMEOUT + CONNECT_TIMEOUT + 2.0
# From the server's start (crash recovery included) to the first 250: the next session's
# ping finds the new server.
RECOVERY_BOUND = 20.0
# Replies this long after the server went down cannot come from a commit made before.
GRACE = 1.0
RECIPIENTS = ("alice@example.test",)
# An error of MaiRust's own in the log (the format is "<time> LEVEL logger: message"); a loop
# that fails (restarted in place) or gives up is one: the Supervisor logs ERROR, CRITICAL.
ERROR_LINE = re.compile(r" (ERROR|CRITICAL) (mairust|actors|cluster|serve)\.|Traceback")
# What the hook runtime logs when the last bindings stand in for a store that is down.
HOOK_BINDINGS_KEPT = "hook bindings not read again"


@dataclass(frozen=True)
class Outage:
    kind: str
    down_at: float  # time.monotonic() once the server was down
    restart_at: float  # when it was started again (it may answer before `up_at`)
    up_at: float  # once it accepted connections again
    health: httpx.Response  # /healthz while it was down


def test_postgresql_restart_and_crash_cost_4xx_only(new_server, service, tmp_path: Path):
    assert REPLY_BOUND < STOP_SECONDS  # else a session that simply waited would pass
    postgres = service("postgres")
    server = new_server(config=restart_config(tmp_path, postgres))
    server.start()
    with server.api() as api:  # the API is quicker than a `mairust user add` process
        created = api.post("/api/v1/users", json={"address": RECIPIENTS[0]})
        assert created.status_code == 201, created.text
    settings = server_settings(server.data_dir, server.config)

    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=4, per_session=10_000, pause=0.05)
    load.start()
    wait_for(lambda: len(load.acknowledged) >= 20, timeout=60, what="mail before the restart")
    outages = []
    for kind, seconds in (("stop", STOP_SECONDS), ("crash", CRASH_SECONDS)):
        outage = take_down(postgres, kind, seconds, server)
        outages.append(outage)
        recovered = wait_for(
            lambda since=outage.restart_at: first_ack_after(load.snapshot(), since),
            timeout=RECOVERY_BOUND,
            what=f"a 250 after the {kind}",
        )
        print(f"{kind}: 250 again {recovered - outage.restart_at:.1f} s after the server's start")
        time.sleep(3)  # load on the new server, with leases taken before it still expiring
    load.stop()
    attempts = load.snapshot()
    assert server.proc is not None and server.proc.poll() is None, "mairust up crashed"

    for outage in outages:
        check_outage(attempts, outage)
    check_replies(attempts)
    wait_for(lambda: all_done(settings), timeout=120, what="every queue row done")
    held = held_leases(settings)
    assert held and not any(held.values()), f"leases still held: {held}"
    assert audit(attempts, settings, f"tok{load.run_id}") == []
    check_loops_alive(server, outages[-1].up_at, attempts)
    check_log_lines(server, outages, load.sessions, settings.hooks.bindings_cache_seconds)
    server.stop()


def restart_config(base: Path, postgres: PrivateService) -> Path:
    metadata = postgres.env["MAIRUST_TEST_POSTGRES_URL"] + (
        f"?answer_timeout={ANSWER_TIMEOUT}&connect_timeout={int(CONNECT_TIMEOUT)}"
    )
    config = base / "mairust.toml"
    config.write_text(
        f'[storage]\nmetadata = "{metadata}"\n'
        f"[queue]\nlease_seconds = {LEASE_SECONDS}\npoll_interval = 0.5\n"
        "retry_base_seconds = 1.0\n" + secrets_section()
    )
    return config


def take_down(postgres: PrivateService, kind: str, seconds: float, server: MairustServer) -> Outage:
    """Stop (clean, connections closed) or crash the server, keep it down ``seconds``,
    start it again on the same port and data (after a crash it recovers from its WAL)."""
    if kind == "stop":
        postgres.pause()  # pg_ctl stop -m fast: returns once the server is down
    else:
        postgres.kill9()
    down_at = time.monotonic()
    health = healthz(server)
    time.sleep(max(0.0, seconds - (time.monotonic() - down_at)))
    restart_at = time.monotonic()
    postgres.resume()  # pg_ctl start -w, then pg_isready: it accepts connections
    return Outage(kind, down_at, restart_at, time.monotonic(), health)


def healthz(server: MairustServer) -> httpx.Response:
    with server.api() as api:
        return api.get("/healthz")


def first_ack_after(attempts: Sequence[Attempt], moment: float) -> float | None:
    acks = [a.replied_at for a in attempts if a.acknowledged and (a.replied_at or 0) > moment]
    return min(acks, default=None)  # type: ignore[type-var]


def check_outage(attempts: Sequence[Attempt], outage: Outage) -> None:
    """While the server was down: 451 4.3.0 and nothing else, and /healthz said so."""
    down = [a for a in attempts if a.replied_at and outage.down_at + GRACE < a.replied_at]
    down = [a for a in down if (a.replied_at or 0) < outage.restart_at]
    print(f"{outage.kind}: replies while down: {dict(Counter(a.code for a in down))}")
    assert down, f"no reply at all while the server was down ({outage.kind})"
    assert all(400 <= (a.code or 0) < 500 for a in down), Counter(a.code for a in down)
    assert all(a.reply.startswith("4.3.0") for a in down), {a.reply for a in down}
    assert outage.health.status_code == 503, outage.health.text
    assert outage.health.headers["content-type"].startswith("application/problem+json")


def check_replies(attempts: Sequence[Attempt]) -> None:
    """Every transaction got a reply (none dropped), each a 250 or a 4xx, none too slow."""
    codes = Counter(a.code for a in attempts)
    print(f"replies: {dict(codes)}; errors: {[a.error for a in attempts if a.error][:3]}")
    assert not [a for a in attempts if a.error], "a session was dropped or timed out"
    assert all(a.code is not None and (a.code == 250 or 400 <= a.code < 500) for a in attempts)
    slowest = max((seconds, command) for a in attempts for command, seconds in a.latencies)
    print(f"slowest reply: {slowest[1]} after {slowest[0]:.1f} s (bound {REPLY_BOUND} s)")
    assert slowest[0] <= REPLY_BOUND


def all_done(settings: Any) -> bool:
    counts = queue_counts(settings)
    return sum(counts.values()) == counts["done"] > 0


def check_loops_alive(
    server: MairustServer, last_up_at: float, attempts: Sequence[Attempt]
) -> None:
    """Every actor ALIVE and never restarted, no loop failed, work done after the return."""
    status = cluster_status(server)
    actors = {
        actor["name"] or actor["class_name"]: (actor["state"], actor["restarts"])
        for actor in status["actors"] + status["serve_actors"]
    }
    assert {"dispatcher", "pipeline-worker-0", "indexer"} <= set(actors), sorted(actors)
    assert {name: seen for name, seen in actors.items() if seen != ("ALIVE", 0)} == {}
    assert status["queue"]["leased"] == 0 and status["queue"]["oldest_lease_seconds"] is None
    # The audit found these delivered: leased and run after the store came back.
    assert [a for a in attempts if a.acknowledged and (a.dot_at or 0) > last_up_at]
    # The API process's pool pings its dead connections away on the next request.
    wait_for(lambda: healthz(server).status_code == 200, timeout=30, what="/healthz ok")


def check_log_lines(
    server: MairustServer, outages: Sequence[Outage], sessions: int, cache_seconds: float
) -> None:
    """What an operator's log holds: warnings only (no loop failed or gave up, no traceback:
    a store outage is an ordinary wait everywhere), and the last hook bindings
    stood in for the store once per cache lifetime per hook point (at most once per
    session, as they race), not once per message (hundreds of lines a second at volume)."""
    errors = [line for line in server.output if ERROR_LINE.search(line)]
    assert errors == [], errors[:5]
    stood_in = sum(HOOK_BINDINGS_KEPT in line for line in server.output)
    lifetimes = sum(math.ceil((o.up_at - o.down_at + GRACE) / cache_seconds) + 1 for o in outages)
    bound = len(HookPoint) * sessions * lifetimes
    unavailable = sum("metadata store unavailable" in line for line in server.output)
    print(f"log: {unavailable} lines say the store was unavailable; {stood_in} kept bindings")
    assert stood_in <= bound, f"{stood_in} lines saying bindings were kept (bound {bound})"


def cluster_status(server: MairustServer) -> dict[str, Any]:
    """`mairust cluster status --json`, as an operator's script reads it (a command, not a
    driver in this process: see test_e2e_fuzz_restarts.py)."""
    result = server.cli("cluster", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status
