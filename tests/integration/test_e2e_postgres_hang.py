"""Scenario: PostgreSQL hangs (every server process SIGSTOPped for 10 s, then SIGCONT) under
`mairust up` while mail arrives, on a private server.

A hung server is not a stopped one: its kernel keeps the connections up and takes our
bytes, and no answer ever comes, so nothing fails by itself. The store's answer deadline
(``answer_timeout`` in the metadata URL) and libpq's ``connect_timeout`` are what bound the
wait. While it hangs: only 4xx replies, no 5xx, no 250 for mail that is not committed,
no session dropped, and no reply later than the configured timeouts allow. Afterwards every
message that got a 250 is delivered exactly once, and every queue row ends done.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tests.integration.conftest import secrets_section
from tests.support.delivery_audit import audit, queue_counts, server_settings
from tests.support.mail_load import MailLoad
from tests.support.mairust_server import wait_for

HANG_SECONDS = 10.0
ANSWER_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0
# A group commit caught by the hang waits for its answer, the next one for a ping and a
# new connection; a session waits for at most those two (plus a loaded machine's slack).
REPLY_BOUND = 2 * (ANSWER_TIMEOUT + CONNECT_TIMEOUT) + 2.0
RECIPIENTS = ("alice@example.test",)


def test_postgresql_hang_costs_4xx_only_and_loses_nothing(new_server, service, tmp_path: Path):
    assert REPLY_BOUND < HANG_SECONDS  # else a session that simply waited would pass
    postgres = service("postgres")
    metadata = postgres.env["MAIRUST_TEST_POSTGRES_URL"] + (
        f"?answer_timeout={ANSWER_TIMEOUT}&connect_timeout={int(CONNECT_TIMEOUT)}"
    )
    config = tmp_path / "mairust.toml"
    config.write_text(
        f'[storage]\nmetadata = "{metadata}"\n'
        "[queue]\nlease_seconds = 10.0\npoll_interval = 0.5\nretry_base_seconds = 1.0\n"
        + secrets_section()
    )
    server = new_server(config=config)
    server.start()
    server.add_user(RECIPIENTS[0])
    settings = server_settings(server.data_dir, config)

    load = MailLoad(server.smtp_port, RECIPIENTS, sessions=4, per_session=10_000, pause=0.05)
    load.start()
    wait_for(lambda: len(load.acknowledged) >= 20, timeout=60, what="mail before the hang")
    frozen_at = time.monotonic()
    postgres.freeze()
    try:
        time.sleep(HANG_SECONDS)
    finally:
        postgres.thaw()
    thawed_at = time.monotonic()
    time.sleep(8)
    load.stop()
    attempts = load.snapshot()
    assert server.proc is not None and server.proc.poll() is None, "mairust up crashed"

    codes = Counter(a.code for a in attempts)
    print(f"replies: {dict(codes)}; errors: {[a.error for a in attempts if a.error][:3]}")
    assert not [a for a in attempts if a.error], "a session was dropped or timed out"
    assert all(a.code is not None and (a.code == 250 or 400 <= a.code < 500) for a in attempts)
    hung = [a for a in attempts if a.replied_at and frozen_at + 0.5 < a.replied_at < thawed_at]
    assert hung and all(400 <= (a.code or 0) < 500 for a in hung), Counter(a.code for a in hung)
    assert all(a.reply.startswith("4.3.0") for a in hung)
    slowest = max((seconds, command) for a in attempts for command, seconds in a.latencies)
    print(f"slowest reply: {slowest[1]} after {slowest[0]:.1f} s (bound {REPLY_BOUND} s)")
    assert slowest[0] <= REPLY_BOUND
    assert any(a.acknowledged and (a.replied_at or 0) > thawed_at for a in attempts)

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_for(all_done, timeout=120, what="every queue row done, no lease left")
    assert audit(attempts, settings, f"tok{load.run_id}") == []
    server.stop()
