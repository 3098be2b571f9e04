"""A live `mairust up` for the API tests' second pass (``pytest --api-live``).

One server at a time, on a fresh PostgreSQL database, S3 bucket and OpenSearch index, and
the same stores opened in the test process, so tests seed through them as they do
in-process. A set of settings (the sections a test module asks for, over :data:`BASE`)
gets a server of its own; :meth:`LivePlatforms.platform_for` keeps the running one while
the settings stay the same (the live pass orders tests so that each set starts once).

Between tests :meth:`LivePlatform.reset` empties every table, the index and the bucket: the
in-process tests each get fresh stores and count on it (the operator's listings, tenant
names like ``a.example``), and emptying costs far less than a server start.

The base settings keep the server's own background loops out of the tests' way: the
queue, the webhook outbox, the hook jobs and the search backlog poll once an hour, so the
rows a test seeds (or sends) stay as the API left them, as they do in-process where no
loop runs.
(Delivery through the pipeline has its e2e scenarios in tests/integration/.) Rate limits
are per token and per client address and live as long as the server: the base settings
raise them, so one test's requests never spend another's allowance.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from mairust.config import Settings, load_settings
from mairust.storage.factory import open_stores
from mairust.storage.sql_engine import postgres_url
from mairust.storage.stores import Stores
from tests.support.mairust_server import MairustServer
from tests.support.opensearch_indexes import admin_client
from tests.support.postgres_databases import PostgresDatabases, postgres_test_url
from tests.support.s3_buckets import raw_s3_client
from tests.support.services import required_env, unique

Sections = dict[str, dict[str, Any]]

BASE: Sections = {
    "api": {
        "rate_limit_per_second": 100_000,
        "rate_limit_burst": 100_000,
        "login_attempts_per_minute": 100_000,
    },
    "queue": {"poll_interval": 3600},
    "webhooks": {"poll_interval": 3600},
    "hooks": {"job_poll_interval": 3600},
    # The API's outbound routes act on waiting recipients: no delivery loop takes them
    # (outbound delivery has its own end-to-end scenarios).
    "outbound": {"workers": 0},
    "cluster": {"search_backlog_interval": 3600},
}


def config_text(sections: Sections) -> str:
    """``sections`` as TOML tables."""
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A value as TOML spells it: scalars and lists as JSON does (the same words), a
    mapping as an inline table (``{ "key" = value }``: JSON's ``:`` is not TOML's)."""
    if isinstance(value, Mapping):
        pairs = (f"{json.dumps(str(key))} = {toml_value(item)}" for key, item in value.items())
        return "{ " + ", ".join(pairs) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


def merged(base: Sections, extra: Sections) -> Sections:
    return {name: {**base.get(name, {}), **extra.get(name, {})} for name in {**base, **extra}}


class LiveServer(MairustServer):
    """`mairust up` whose operator token is the in-process tests' admin token."""

    admin_token: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env["MAIRUST_ADMIN_TOKEN"] = self.admin_token
        return env


@dataclass
class LivePlatform:
    """A running server, its settings as it loaded them, and the same stores, here."""

    server: MairustServer
    settings: Settings
    stores: Stores
    sections: Sections
    emptier: Emptier
    cleanup: ExitStack

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.api_port}"

    @classmethod
    def start(cls, base: Path, sections: Sections, admin_token: str) -> LivePlatform:
        cleanup = ExitStack()
        try:
            databases = PostgresDatabases(postgres_test_url())
            cleanup.callback(databases.close)
            metadata = cleanup.enter_context(databases.database(migrated=False))
            blobs = required_env("MAIRUST_TEST_S3_URL").replace(
                "s3://mairust-test", f"s3://{unique('api-live')}", 1
            )
            # A short refresh interval: each seeded document is searchable on return
            # (writes wait for the next refresh).
            search = required_env("MAIRUST_TEST_OPENSEARCH_URL") + (
                f"?index={unique('api-live')}&replicas=0&refresh_interval=50ms"
            )
            key = base64.b64encode(os.urandom(32)).decode()
            storage: Sections = {
                "storage": {"metadata": metadata, "blobs": blobs, "search": search},
                "secrets": {"key": key},
            }
            config = base / "mairust.toml"
            config.write_text(config_text(merged(storage, merged(BASE, sections))))
            server = LiveServer(data_dir=base / "data", config=config)
            server.admin_token = admin_token
            server.start()
            cleanup.callback(_stop, server)
            settings = load_settings(config, data_dir=base / "data")
            stores = open_stores(settings.storage)
            cleanup.callback(stores.close)
            emptier = Emptier(settings)
            cleanup.callback(emptier.close)
            return cls(server, settings, stores, sections, emptier, cleanup)
        except BaseException:
            cleanup.close()
            raise

    def reset(self) -> None:
        """Empty every table, the search index and the bucket (the server keeps running)."""
        self.emptier.empty()

    def stop(self) -> None:
        self.cleanup.close()


class LivePlatforms:
    """The session's live platforms: at most one runs; another set of settings stops it."""

    def __init__(self, base: Path, admin_token: str) -> None:
        self.base = base
        self.admin_token = admin_token
        self.current: LivePlatform | None = None
        self.started = 0

    def platform_for(self, sections: Sections) -> LivePlatform:
        if self.current is not None and self.current.sections == sections:
            return self.current
        self.close()
        self.started += 1
        place = self.base / f"platform-{self.started}"
        place.mkdir()
        self.current = LivePlatform.start(place, sections, self.admin_token)
        return self.current

    def close(self) -> None:
        if self.current is not None:
            current, self.current = self.current, None
            current.stop()


def _stop(server: MairustServer) -> None:
    if server.proc is None or server.proc.poll() is not None:
        return
    try:
        server.stop()
    except Exception:
        server.kill9()
        raise


class Emptier:
    """Empties the platform's three places quickly (clients made once: a boto3 client
    alone takes ~0.5 s to make). Tables are emptied with DELETE, children first, and only
    those that hold rows (TRUNCATE makes new files and syncs them: ~0.5 s for the
    schema); the sequences start again at 1, as in a fresh database."""

    def __init__(self, settings: Settings) -> None:
        storage = settings.storage
        self._engine = sa.create_engine(postgres_url(storage.metadata))
        self._tables, self._sequences = _schema_of(self._engine)
        self._index = parse_qs(urlsplit(storage.search).query)["index"][0]
        self._search = admin_client()
        self._bucket = urlsplit(storage.blobs).netloc
        self._s3 = raw_s3_client(storage.blobs)

    def empty(self) -> None:
        with self._engine.begin() as conn:
            probe = " UNION ALL ".join(
                f'SELECT {n} WHERE EXISTS (SELECT 1 FROM "{t}")' for n, t in enumerate(self._tables)
            )
            filled = {int(n) for n in conn.exec_driver_sql(probe).scalars()}
            for n, table in enumerate(self._tables):
                if n in filled:
                    conn.exec_driver_sql(f'DELETE FROM "{table}"')
            if self._sequences:
                restart = ", ".join(f"setval('\"{s}\"', 1, false)" for s in self._sequences)
                conn.exec_driver_sql(f"SELECT {restart}")
        self._search.delete_by_query(
            index=self._index,
            body={"query": {"match_all": {}}},
            params={"refresh": "true", "conflicts": "proceed"},
        )
        self._empty_bucket()

    def _empty_bucket(self) -> None:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys})

    def close(self) -> None:
        """Drop the index and the bucket (the database is dropped by its owner)."""
        self._engine.dispose()
        try:
            self._search.indices.delete(index=self._index, ignore_unavailable=True)
            self._empty_bucket()
            self._s3.delete_bucket(Bucket=self._bucket)
        finally:
            self._search.close()
            self._s3.close()


def _schema_of(engine: sa.Engine) -> tuple[list[str], list[str]]:
    """The tables (each after every table that references it) and the sequences."""
    with engine.connect() as conn:
        tables = set(
            conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename NOT IN ('alembic_version', 'schema_revisions')"
            ).scalars()
        )
        references = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f'"
        ).all()
        sequences = list(
            conn.exec_driver_sql(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            ).scalars()
        )
    children: dict[str, set[str]] = {table: set() for table in tables}
    for child, parent in references:
        if child != parent and parent.strip('"') in children:
            children[parent.strip('"')].add(child.strip('"'))
    ordered: list[str] = []

    def visit(table: str) -> None:
        if table in ordered:
            return
        for child in sorted(children[table]):
            visit(child)
        ordered.append(table)

    for table in sorted(tables):
        visit(table)
    return ordered, sequences
