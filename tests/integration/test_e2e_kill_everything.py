"""Scenario: kill -9 of every process of `mairust up` — the driver, Ray's GCS and raylet, and
every actor's worker process (which Ray runs in process groups of their own) — at one
instant, while SMTP sessions are in DATA and the pipeline holds leased batches.

After `mairust up` again: every (message, recipient) that got a 250 is in its mailbox
exactly once; nothing whose end of DATA was never sent is stored anywhere; a message whose
250 was lost with the connection is stored for all its recipients or for none; every queue
row ends done (no lease stays stuck); the search index finds each message's entries once.
Runs on the embedded stores and on PostgreSQL + S3 + OpenSearch.
"""

from __future__ import annotations

from collections import Counter

from tests.support.delivery_audit import (
    audit,
    outcome_counts,
    queue_counts,
    search_problems,
    server_settings,
    stored_entry_ids,
)
from tests.support.mail_load import MailLoad

RECIPIENTS = ("alice@example.test", "bob@example.test")
STALLED = 3
# Retries and polls come quickly in tests; production keeps its slower defaults.
FAST_QUEUE = "[queue]\npoll_interval = 0.5\nretry_base_seconds = 1.0\n"


def test_kill_9_of_every_process_mid_data_and_mid_batch(server_config, new_server, wait_until):
    config = server_config(FAST_QUEUE)
    server = new_server(config=config)
    server.start()
    for address in RECIPIENTS:
        server.add_user(address)
    settings = server_settings(server.data_dir, config)
    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=6, per_session=300, stallers=STALLED)
    load.start()

    def busy() -> bool:
        counts = queue_counts(settings)
        return (
            len(load.in_phase("body")) >= STALLED
            and len(load.acknowledged) >= 60
            and counts["leased"] > 0
        )

    wait_until(busy, timeout=120, interval=0.1, what="sessions in DATA and leased queue rows")
    queue_at_kill: Counter[str] = Counter()
    sessions_at_kill: Counter[str] = Counter()

    def look_while_frozen() -> bool:
        # Everything is stopped: this is the state the kill leaves behind. The pipeline
        # may be ahead of the load at this instant (no batch leased); then the processes
        # run on a moment and are frozen again, until both kinds of work are in flight.
        queue_at_kill.clear()
        sessions_at_kill.clear()
        queue_at_kill.update(queue_counts(settings))
        sessions_at_kill.update(a.phase for a in load.snapshot())
        return sessions_at_kill["body"] >= STALLED and queue_at_kill["leased"] > 0

    killed = server.kill9(while_frozen=look_while_frozen, tries=100)
    load.stop()
    print(f"killed {killed} processes; queue {queue_at_kill}; sessions {sessions_at_kill}")
    assert killed >= 10, "Ray's processes were not found"  # driver, GCS, raylet, actors, ...
    assert sessions_at_kill["body"] >= STALLED  # transactions open in DATA at the kill
    assert queue_at_kill["leased"] > 0  # batches in the pipeline's hands

    server.start()

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_until(all_done, timeout=180, what="every queue row done after the restart")
    attempts = load.snapshot()
    prefix = f"tok{load.run_id}"
    outcomes = outcome_counts(attempts, settings, prefix)
    print(f"outcomes: {dict(outcomes)}")
    assert outcomes["unsent"] >= STALLED
    assert audit(attempts, settings, prefix) == []

    stored = stored_entry_ids(settings, prefix)
    assert len(stored) >= outcomes["acknowledged"]
    problems: list[str] = []

    def search_agrees() -> bool:
        problems[:] = search_problems(settings, stored)
        return not problems

    try:
        wait_until(search_agrees, timeout=60, interval=2, what="the search index")
    except AssertionError:
        raise AssertionError("search index disagrees:\n" + "\n".join(problems[:20])) from None
    server.stop()
