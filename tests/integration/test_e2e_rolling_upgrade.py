"""A rolling upgrade, for real: the release before this code (the code without the newest
migration, tests.support.previous_release) runs `mairust up` on a PostgreSQL database, an
S3 prefix and an OpenSearch index of the shared test servers. This code then upgrades the
schema under it (`mairust db upgrade`, the operator's first step) and starts its own
`mairust up` on the same stores, with its own data dir and ports. Mail sent to either
node's SMTP port lands in the mailboxes exactly once, both APIs list all of it and serve
each other's bodies; then the old node stops (Ctrl-C) and the new one carries on alone."""

from __future__ import annotations

import logging
import smtplib
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

from mairust.config import load_settings
from mairust.model.queue import QueueState
from mairust.storage.schema_revisions import declared_phases
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_migrations import current_revision, head_revision, script_directory
from mairust.storage.sql_schema import entries, queue
from tests.integration.conftest import production_config
from tests.support.mairust_server import MairustServer, wait_for
from tests.support.previous_release import previous_release

USERS = ("ann@example.test", "bob@example.test")
_log = logging.getLogger(__name__)


class Steps:
    """Logs how long each step of the scenario took (pytest -o log_cli=true shows them)."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        _log.info("%-32s %5.1f s", step, now - self._last)
        self._last = now


def send(server: MairustServer, *subjects: str) -> list[str]:
    """One message per subject to both users through ``server``'s SMTP port."""
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as client:
        for subject in subjects:
            body = f"From: ops@remote.test\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n"
            refused = client.sendmail("ops@remote.test", list(USERS), body.encode())
            assert refused == {}, refused
    return list(subjects)


def listed(server: MairustServer, user: str) -> Counter[str]:
    """The subjects ``server``'s API lists in ``user``'s mailbox, with how often."""
    with server.api() as api:
        answer = api.get("/api/v1/messages", params={"mailbox": user, "limit": 500})
    assert answer.status_code == 200, answer.text
    return Counter(item["subject"] for item in answer.json()["items"])


def all_listed_once(servers: list[MairustServer], sent: list[str]) -> None:
    """Wait until every API of ``servers`` lists each subject of ``sent`` exactly once in
    each user's mailbox, and nothing else (a duplicate never matches)."""
    expected = Counter(sent)

    def every_mailbox_complete() -> bool:
        return all(listed(server, user) == expected for server in servers for user in USERS)

    wait_for(every_mailbox_complete, 90, 0.5, f"{sorted(expected)} once in each mailbox")
    assert all(listed(server, user) == expected for server in servers for user in USERS)


def test_the_release_before_and_this_one_run_side_by_side_on_one_database(
    tmp_path: Path,
) -> None:
    steps = Steps()
    old_code = previous_release(tmp_path / "old-code")
    steps.done(f"release before: {old_code.commit[:10]}")
    chain = [phase.revision for phase in declared_phases(script_directory())]
    assert old_code.head in chain[:-1], (old_code, chain)  # older, and on our line
    with ExitStack() as cleanup:
        config = production_config(tmp_path, cleanup)
        url = load_settings(config, data_dir=tmp_path).storage.metadata
        old = MairustServer(
            data_dir=tmp_path / "old",
            config=config,
            program=old_code.program,
            cwd=old_code.tree,
            extra_env=old_code.env({}),
        )
        new = MairustServer(data_dir=tmp_path / "new", config=config)
        for server in (old, new):
            cleanup.callback(_kill_if_running, server)

        old.start()
        steps.done("old mairust up started")
        assert current_revision(url) == old_code.head  # the old code migrated to its own head
        with old.api() as api:
            for user in USERS:
                assert api.post("/api/v1/users", json={"address": user}).status_code == 201

        upgrade = new.cli("db", "upgrade")  # the new release migrates; the old node runs on
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        assert f"upgraded {old_code.head} to {head_revision()}" in upgrade.stdout
        assert f"code of {old_code.head} may keep running beside it" in upgrade.stdout
        assert current_revision(url) == head_revision()
        steps.done("db upgrade by the new code")
        sent = send(old, "old-alone-1", "old-alone-2")  # the old code on the new schema
        all_listed_once([old], sent)
        steps.done("old alone on the new schema")

        new.start()
        steps.done("new mairust up started")
        sent += send(new, "new-1", "new-2") + send(old, "old-1", "old-2")
        all_listed_once([old, new], sent)
        _bodies_through_the_other_node(old, new)
        steps.done("side by side")

        assert old.stop() == 0
        steps.done("old stopped")
        sent += send(new, "new-alone-1")
        all_listed_once([new], sent)
        assert _entries_per_mailbox_and_message(url) == {1}
        assert new.stop() == 0
        steps.done("new alone, then stopped")


def _bodies_through_the_other_node(old: MairustServer, new: MairustServer) -> None:
    """Each API serves the body of a message the other node accepted (the shared bucket)."""
    for reader, subject in ((new, "old-1"), (old, "new-1")):
        with reader.api() as api:
            items = api.get("/api/v1/messages", params={"mailbox": USERS[0]}).json()["items"]
            [entry] = [item for item in items if item["subject"] == subject]
            raw = api.get(f"/api/v1/messages/{entry['id']}/raw")
        assert raw.status_code == 200, raw.text
        assert f"body of {subject}" in raw.text


def _entries_per_mailbox_and_message(url: str) -> set[int]:
    """How many entries each (mailbox, message) has, read from the store, once no queue
    row is left waiting or leased (the last batch settles just after its entries)."""
    engine = create_sql_engine(url)
    try:
        with engine.connect() as conn:
            wait_for(lambda: _unsettled(conn) == 0, 60, 0.5, "every queue row settled")
            counts = conn.execute(
                sa.select(sa.func.count())
                .select_from(entries)
                .group_by(entries.c.mailbox_id, entries.c.message_id)
            ).scalars()
            return set(counts)
    finally:
        engine.dispose()


def _unsettled(conn: sa.Connection) -> int:
    unsettled = queue.c.state.in_((QueueState.QUEUED, QueueState.LEASED))
    count = conn.execute(sa.select(sa.func.count()).where(unsettled)).scalar_one()
    conn.rollback()  # the next look sees new commits
    return int(count)


def _kill_if_running(server: MairustServer) -> None:
    if server.proc is not None and server.proc.poll() is None:
        server.kill9()
