"""Scenario: property-based SMTP sessions against a running `mairust up`, then Ray's
restart counts read through `mairust cluster status` (issue 12: zero actor restarts).

One `mairust up` trusts only 127.0.0.1, so the sessions, sent from 127.0.0.2-127.0.0.16,
meet every check and per-IP limit of its real SMTP listener. The sessions are the ones of
tests/mairust/smtp/test_fuzz_sessions.py (tests/support/smtp_fuzz.py), fewer of them
(``MAIRUST_E2E_FUZZ_EXAMPLES``, 200 by default): the in-process test runs 500 for the
parser's sake; these are for the actors' sake. Afterwards every MaiRust and Serve actor is
ALIVE with 0 restarts, every session got well-formed replies or a clean close, and the
server's output holds no traceback. Then the reading is shown able to fail: kill -9 of a
pipeline worker's process, and its restart count becomes 1 (the others stay 0).
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import json
import os
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings

from tests.support.mairust_server import MairustServer, wait_for
from tests.support.smtp_fuzz import SESSIONS, Session, assert_well_formed, connect, play, queued_ids

EXAMPLES = int(os.environ.get("MAIRUST_E2E_FUZZ_EXAMPLES", "200"))
SOURCES = [f"127.0.0.{n}" for n in range(2, 17)]
CONFIG = """
[auth]
trusted_networks = ["127.0.0.1/32"]

[smtp]
auth_failure_delay = 0  # the AUTH tarpit would make each failing session 5 s long

[admission]
max_connections_per_ip = 1000
messages_per_minute_per_ip = 0
command_timeout_seconds = 5
data_timeout_seconds = 5
greet_pause_seconds = 0
"""
# What `mairust up` runs with this config (two pipeline workers, two auth checkers).
EXPECTED_ACTORS = {
    "smtp-frontend",
    "dispatcher",
    "pipeline-worker-0",
    "pipeline-worker-1",
    "auth-checker-0",
    "auth-checker-1",
    "indexer",
    "webhooks",
}


def cluster_status(server: MairustServer) -> dict[str, Any]:
    """`mairust cluster status --json`, as an operator's script reads it."""
    result = server.cli("cluster", "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def restarts_by_name(status: dict[str, Any]) -> dict[str, tuple[str, int]]:
    return {
        actor["name"]: (actor["state"], actor["restarts"])
        for actor in status["actors"] + status["serve_actors"]
    }


def test_fuzzed_sessions_restart_no_actor_and_a_kill_is_counted(new_server, tmp_path):
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    with server.api() as api:  # the API is quicker than a `mairust user add` process
        created = api.post("/api/v1/users", json={"address": "alice@example.test"})
        assert created.status_code == 201, created.text
    sources = count()
    accepted: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(session=SESSIONS)
    def fuzz(session: Session) -> None:
        source = SOURCES[next(sources) % len(SOURCES)]
        lines = play(server.smtp_port, source, session)
        assert_well_formed(lines)
        accepted.extend(queued_ids(lines))
        with connect(server.smtp_port, source) as sock:
            assert sock.recv(512).startswith(b"220 "), "the server no longer greets"

    fuzz()
    assert accepted, "no session got as far as a 250 for a message"

    status = cluster_status(server)
    actors = restarts_by_name(status)
    assert set(actors) >= EXPECTED_ACTORS, sorted(actors)
    assert any(a["class_name"].startswith("ServeReplica:") for a in status["serve_actors"])
    assert {name: seen for name, seen in actors.items() if seen != ("ALIVE", 0)} == {}
    assert status["queue"]["counts"]["queued"] + status["queue"]["counts"]["done"] > 0
    output = "".join(server.output)
    assert "Traceback" not in output, output[-4000:]

    # The reading can fail: kill -9 of one pipeline worker's process is counted.
    worker = next(a for a in status["actors"] if a["name"] == "pipeline-worker-0")
    assert worker["pid"] in server.actor_pids("PipelineWorker")
    server.kill_pid9(worker["pid"])

    # Read by the command each time, never by a driver in this process: a process that was
    # once a driver of another cluster (another test's, on the same xdist worker) keeps
    # Ray's state of it, and its next join waits for a GCS that is gone.
    def restarted() -> dict[str, tuple[str, int]] | None:
        now = restarts_by_name(cluster_status(server))
        return now if now["pipeline-worker-0"] == ("ALIVE", 1) else None

    after = wait_for(restarted, timeout=60, interval=1.0, what="pipeline-worker-0 restarted once")
    others = {name: seen for name, seen in after.items() if name != "pipeline-worker-0"}
    assert {name: seen for name, seen in others.items() if seen != ("ALIVE", 0)} == {}
