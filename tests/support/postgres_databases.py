"""Throwaway PostgreSQL databases for tests, on the server `.ci/services/postgres.sh` starts.

The server's address comes from ``MAIRUST_TEST_POSTGRES_URL`` (``make test`` and
``.ci/with-services.sh`` set it). A test that needs PostgreSQL and finds no server
FAILS, saying how to start one: a skipped backend would pass for a tested one.

Each test gets a database of its own: a clone of a template migrated once per process
(``CREATE DATABASE ... TEMPLATE`` copies a small database in well under 0.1 s, while
running the migrations costs twice that). Dropping a database makes the server
checkpoint (~0.4 s with fsync on), so drops run on a background thread.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from mairust.storage.sql_engine import postgres_url
from mairust.storage.sql_migrations import upgrade_to_head
from tests.support.services import required_env

URL_VARIABLE = "MAIRUST_TEST_POSTGRES_URL"
SERVICE_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "services" / "postgres.sh"


def postgres_test_url() -> str:
    """The test server's URL; fails the calling test when the services are not running."""
    return required_env(URL_VARIABLE, "the PostgreSQL tests")


# Tries to drop a database while an autovacuum worker is on it (0.5 s apart).
DROP_ATTEMPTS = 40


class PostgresDatabases:
    """Creates uniquely named databases on one server and drops them after use."""

    def __init__(self, server_url: str) -> None:
        self.server_url = sa.make_url(server_url)
        # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction.
        self._admin = sa.create_engine(postgres_url(server_url), isolation_level="AUTOCOMMIT")
        self._template: str | None = None
        self._drops = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-drop")
        self._pending: list[Future[None]] = []

    def url_of(self, name: str) -> str:
        """The server's URL (same scheme and role) naming database ``name``."""
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    @contextmanager
    def database(self, migrated: bool = True) -> Iterator[str]:
        """The URL of a new database (at the newest schema, or empty); dropped afterwards."""
        name = self._new_name("t")
        template = self._migrated_template() if migrated else "template0"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield self.url_of(name)
        finally:
            self._pending.append(self._drops.submit(self._drop, name))

    def close(self) -> None:
        """Wait for the pending drops, drop the template; raises what a drop raised."""
        self._drops.shutdown(wait=True)
        try:
            for pending in self._pending:
                pending.result()
            if self._template is not None:
                self._drop(self._template)
        finally:
            self._admin.dispose()

    def _migrated_template(self) -> str:
        if self._template is None:
            name = self._new_name("template")
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            upgrade_to_head(self.url_of(name))  # disposes its engine: clones need no sessions
            self._template = name
        return self._template

    def _drop(self, name: str) -> None:
        # FORCE ends sessions a test left open (a subprocess, a store it did not close). It
        # may not end an autovacuum worker that happens to be on the database (that needs
        # pg_signal_backend); the worker finishes soon, so try again for a while.
        for attempt in range(DROP_ATTEMPTS):
            try:
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except sa.exc.ProgrammingError as error:
                if "pg_signal_backend" not in str(error) or attempt == DROP_ATTEMPTS - 1:
                    raise
                time.sleep(0.5)

    def _execute(self, statement: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(statement)

    @staticmethod
    def _new_name(kind: str) -> str:
        return f"mairust_{kind}_{os.getpid()}_{secrets.token_hex(4)}"
