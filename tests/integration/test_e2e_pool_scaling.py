"""Scenario: a `mairust up` whose pipeline pool may hold 1 to 3 workers. A backlog (batches
of one row, one batch in flight per worker, a low target per worker) grows the pool to its
maximum; when the queue is idle it shrinks back to its minimum, one worker at a time, each
retired only after its batches settled. Every acknowledged message is delivered exactly
once; `mairust cluster status --json` and ``/metrics`` show the pool's size and bounds."""

from __future__ import annotations

import json

from tests.support.delivery_audit import audit, queue_counts, server_settings
from tests.support.mail_load import MailLoad
from tests.support.mairust_server import MairustServer, wait_for

RECIPIENTS = ("alice@example.test", "bob@example.test")
CONFIG = """
[queue]
poll_interval = 0.5
batch_size = 1
[cluster]
pipeline_workers = 1
pipeline_workers_min = 1
pipeline_workers_max = 3
max_batches_in_flight = 1
pipeline_rows_per_worker = 2
pool_scale_interval = 0.5
pool_cooldown_seconds = 1.0
[auth]
enabled = false
"""


def test_a_backlog_grows_the_pipeline_pool_and_idleness_shrinks_it(new_server, tmp_path):
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server: MairustServer = new_server(config=config)
    server.start()
    for address in RECIPIENTS:
        server.add_user(address)
    settings = server_settings(server.data_dir, server.config)

    def workers() -> int:
        return len(server.actor_pids("PipelineWorker"))

    wait_for(lambda: workers() == 1, timeout=30, what="one pipeline worker at the start")
    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=4, per_session=30, size=1024).start()
    try:
        wait_for(lambda: workers() == 3, timeout=60, interval=0.1, what="the pool at its max")
    finally:
        load.stop()
    attempts = load.snapshot()
    assert sum(a.acknowledged for a in attempts) >= 20

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_for(all_done, timeout=90, what="every queue row done")
    wait_for(lambda: workers() == 1, timeout=30, what="the idle pool back at its min")
    assert audit(attempts, settings, f"tok{load.run_id}") == []

    status = server.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    pools = {pool["name"]: pool for pool in json.loads(status.stdout)["pools"]}
    pipeline = pools["pipeline"]
    assert (pipeline["size"], pipeline["minimum"], pipeline["maximum"]) == (1, 1, 3)
    assert sum(pipeline["per_node"].values()) == 1
    # The worker that is left is one of the first or a newer one, named in the pool.
    assert all(name.startswith("pipeline-worker-") for name in pipeline["members"])
    # The auth checks are off: no checker pool. One delivery worker, fixed.
    assert set(pools) == {"pipeline", "delivery"}
    assert (pools["delivery"]["size"], pools["delivery"]["load"]) == (1, None)

    with server.api() as api:
        metrics = api.get("/metrics").text
    assert 'mairust_pool_size{pool="pipeline",process="pool-registry"} 1.0' in metrics, metrics
    assert 'mairust_pool_max_size{pool="pipeline",process="pool-registry"} 3.0' in metrics
