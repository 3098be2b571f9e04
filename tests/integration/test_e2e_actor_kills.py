"""Scenario: kill -9 of one actor's process inside a running `mairust up` under load.

- A pipeline worker, while batches run: Ray starts the actor again, the lost batch's rows
  come back to the queue, SMTP never notices (every message gets its 250), and each
  acknowledged message is in each mailbox exactly once.
- The SMTP front-end, while sessions are in DATA: the cut sessions may see errors, and a
  message whose 250 was lost with its connection may or may not be delivered (RFC 5321
  §6.1), but never twice and never for only some recipients; nothing whose end of DATA was
  not sent is stored; Ray starts the front-end again and SMTP answers within a bound;
  everything that got a 250 is delivered exactly once.
"""

from __future__ import annotations

import time
from collections import Counter

from tests.support.delivery_audit import (
    audit,
    outcome_counts,
    queue_counts,
    search_problems,
    server_settings,
    stored_entry_ids,
)
from tests.support.mail_load import MailLoad, wait_until_listening
from tests.support.mairust_server import MairustServer, process_title, wait_for

RECIPIENTS = ("alice@example.test", "bob@example.test")
FAST_QUEUE = "[queue]\npoll_interval = 0.5\nretry_base_seconds = 1.0\n"
# Ray restarts a dead actor's process in a few seconds; the rest is a loaded 2-core machine.
RESTART_BOUND = 60.0


def started_server(new_server, tmp_path) -> MairustServer:
    config = tmp_path / "mairust.toml"
    config.write_text(FAST_QUEUE)
    server = new_server(config=config)
    server.start()
    for address in RECIPIENTS:
        server.add_user(address)
    return server


def check_delivered(server: MairustServer, load: MailLoad) -> Counter[str]:
    """Wait until every queue row is done, then hold the stores against the senders."""
    settings = server_settings(server.data_dir, server.config)

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_for(all_done, timeout=180, what="every queue row done")
    attempts = load.snapshot()
    prefix = f"tok{load.run_id}"
    assert audit(attempts, settings, prefix) == []
    problems: list[str] = []

    def search_agrees() -> bool:
        problems[:] = search_problems(settings, stored_entry_ids(settings, prefix))
        return not problems

    try:
        wait_for(search_agrees, timeout=60, interval=2, what="the search index")
    except AssertionError:
        raise AssertionError("search index disagrees:\n" + "\n".join(problems[:20])) from None
    return outcome_counts(attempts, settings, prefix)


def test_kill_9_of_a_pipeline_worker_mid_batch(new_server, tmp_path):
    server = started_server(new_server, tmp_path)
    settings = server_settings(server.data_dir, server.config)

    # `mairust up` is ready once one worker answers; the second may still be starting.
    def both_workers() -> list[int] | None:
        pids = server.actor_pids("PipelineWorker")
        return pids if len(pids) == 2 else None

    workers_before = wait_for(
        both_workers, timeout=RESTART_BOUND, what="both pipeline workers' processes"
    )
    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=4, per_session=60).start()

    def busy_worker() -> int | None:
        if queue_counts(settings)["leased"] == 0:
            return None
        # Ray titles a worker "ray::PipelineWorker.process" while it runs a batch.
        busy = [
            pid
            for pid in workers_before
            if process_title(pid).startswith("ray::PipelineWorker.process")
        ]
        return busy[0] if busy else None

    victim = wait_for(busy_worker, timeout=120, interval=0.05, what="a worker mid-batch")
    server.kill_pid9(victim)
    killed_at = time.monotonic()

    def restarted() -> list[int]:
        workers = server.actor_pids("PipelineWorker")
        return [pid for pid in workers if pid not in workers_before]

    replacement = wait_for(restarted, timeout=RESTART_BOUND, what="Ray restarting the worker")
    print(f"worker {victim} replaced by {replacement} in {time.monotonic() - killed_at:.1f} s")
    wait_for(lambda: not load.running(), timeout=300, what="the load to finish")
    load.stop()
    outcomes = check_delivered(server, load)
    print(f"outcomes: {dict(outcomes)}")
    # SMTP never depended on the worker: every message got its 250.
    assert outcomes == Counter(acknowledged=4 * 60), outcomes
    server.stop()


def test_kill_9_of_the_smtp_front_end_mid_data(new_server, tmp_path):
    server = started_server(new_server, tmp_path)
    (frontend,) = server.actor_pids("FrontEndHost")
    load = MailLoad(
        server.smtp_port, RECIPIENTS, sessions=4, per_session=60, stallers=2, pause=0.02
    ).start()
    wait_for(
        lambda: len(load.in_phase("body")) >= 2 and len(load.acknowledged) >= 40,
        timeout=120,
        interval=0.05,
        what="sessions in DATA",
    )
    acknowledged_before = len(load.acknowledged)
    server.kill_pid9(frontend)
    recovery = wait_until_listening(server.smtp_port, timeout=RESTART_BOUND)
    print(f"SMTP answered again {recovery:.1f} s after the front-end's kill")
    (replacement,) = server.actor_pids("FrontEndHost")
    assert replacement != frontend
    wait_for(lambda: not load.running(), timeout=300, what="the load to finish")
    load.stop()
    outcomes = check_delivered(server, load)
    print(f"outcomes: {dict(outcomes)}; connection failures: {load.connect_failures}")
    assert outcomes["unsent"] >= 2  # the stalled transactions were cut mid-body
    # Sessions went on after the restart and got their 250s.
    assert outcomes["acknowledged"] > acknowledged_before
    server.stop()
