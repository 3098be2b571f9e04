"""Scenario: `mairust up` with two SMTP front-end processes on the same ports
(`[smtp] frontends_per_node = 2`, SO_REUSEPORT): the kernel hands connections to both, each
commits what it accepted, every acknowledged message is delivered exactly once, `mairust
cluster status` shows both alive, and a stop ends both."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.delivery_audit import audit, queue_counts, server_settings
from tests.support.mail_load import MailLoad
from tests.support.mairust_server import wait_for

RECIPIENTS = ("alice@example.test",)
GROUP = ("smtp-frontend", "smtp-frontend-2")
CONNECTIONS = 16  # two processes both left without one: a chance of 2 in 65,536


def committed_by_process(metrics: str) -> dict[str, float]:
    """Messages each front-end process committed, from the API's /metrics."""
    return {
        sample.labels["process"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "mairust_spool_messages_total"
        and sample.labels.get("result") == "committed"
    }


def test_two_frontends_share_the_ports_and_each_keeps_its_promises(new_server, tmp_path: Path):
    config = tmp_path / "mairust.toml"
    config.write_text("[smtp]\nfrontends_per_node = 2\n[queue]\npoll_interval = 0.5\n")
    server = new_server(config=config)
    server.start()
    server.add_user(RECIPIENTS[0])
    settings = server_settings(server.data_dir, config)

    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=CONNECTIONS, per_session=2).start()
    wait_for(lambda: not load.running(), timeout=120, what="the load to finish")
    load.stop()
    assert len(load.acknowledged) == 2 * CONNECTIONS, load.snapshot()[:3]

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] == 2 * CONNECTIONS

    wait_for(all_done, timeout=120, what="every queue row done")
    assert audit(load.snapshot(), settings, f"tok{load.run_id}") == []

    with server.api() as api:
        committed = committed_by_process(api.get("/metrics").text)
    assert {name: committed.get(name, 0) > 0 for name in GROUP} == dict.fromkeys(GROUP, True)
    assert sum(committed.get(name, 0) for name in GROUP) == 2 * CONNECTIONS

    status = server.cli("cluster", "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    states = {actor["name"]: actor["state"] for actor in json.loads(status.stdout)["actors"]}
    assert {name: states.get(name) for name in GROUP} == dict.fromkeys(GROUP, "ALIVE")

    assert server.stop() == 0
