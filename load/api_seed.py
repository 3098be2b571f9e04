"""The API benchmark's data: the stores of each pass (embedded files, or a new PostgreSQL
database, S3 prefix and OpenSearch index on the MAIRUST_TEST_* servers, removed again
afterwards), its config file, and one mailbox filled with distinct messages.

The mailbox is filled through the stores' own API before ``mairust up`` starts, the way the
pipeline stores a delivered message and the API tests seed theirs: each message is a blob,
a spool commit (its queue row then leased and acknowledged, as a pipeline worker does, so
the running platform has nothing left to deliver), a mailbox entry and a search document,
in batches of 500 (one transaction and one bulk index write each). SMTP is not used: 10,000
messages through SMTP and the pipeline would take minutes and measure the wrong thing.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from load.api_load import Seeded
from mairust.config import Settings, load_settings
from mairust.model.ids import new_id
from mairust.model.mailbox import NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.parsing import parse_message
from mairust.model.threads import thread_headers
from mairust.search.indexing import search_document
from mairust.storage.factory import migrate, open_stores

log = logging.getLogger("load.bench_api")

DOMAIN = "bench.example"
MAILBOX = f"reader@{DOMAIN}"
BATCH = 500
# Search words: message n carries topic(n % 100) and topic(n * 7 % 100), so a search for one
# word matches about 200 of 10,000 messages (four pages of 50).
WORDS = [f"topic{n:02d}" for n in range(100)]
FILLER = (
    "The quarterly figures are attached; the numbers for the northern region were revised "
    "after the audit, and the shipping costs now include the new carrier's surcharge. "
) * 8

SEEDED_HOW = (
    "seeded through the stores' API before the platform started (blob, spool commit with its "
    "queue row leased and acknowledged, mailbox entry, search document; batches of 500), as a "
    "pipeline worker stores delivered mail"
)


def message(n: int, when: datetime) -> bytes:
    """Message ``n``: about 1.6 KiB, plain text, two search words of its own."""
    words = f"{WORDS[n % 100]} {WORDS[n * 7 % 100]}"
    return (
        f"From: Sender {n % 37} <sender{n % 37}@remote.example>\r\n"
        f"To: {MAILBOX}\r\n"
        f"Subject: Report {n}: {words}\r\n"
        f"Date: {format_datetime(when)}\r\n"
        f"Message-ID: <bench-{n}-{new_id()}@remote.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Hello,\r\n\r\nthis is report {n} about {words}.\r\n{FILLER}\r\n"
    ).encode()


def seed_mailbox(settings: Settings, count: int) -> Seeded:
    """A tenant, its domain and one mailbox holding ``count`` messages, one second apart."""
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        tenant = stores.metadata.create_tenant(DOMAIN)
        stores.metadata.add_domain(DOMAIN, tenant.id)
        mailbox = stores.metadata.add_mailbox(MAILBOX)
        start = datetime.now(UTC) - timedelta(seconds=count + 60)
        entry_ids: list[str] = []
        # Blob writes wait on fsync or on S3: a few at a time.
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="seed-blobs") as pool:
            for first in range(0, count, BATCH):
                numbers = range(first, min(count, first + BATCH))
                times = [start + timedelta(seconds=n) for n in numbers]
                raws = [message(n, when) for n, when in zip(numbers, times, strict=True)]
                blobs = list(pool.map(stores.blobs.put, raws))
                records = [
                    SpoolRecord(
                        ref=MessageRef(
                            id=new_id(), size=blob.size, sha256=blob.sha256, blob_key=blob.key
                        ),
                        envelope=Envelope(
                            mail_from="sender@remote.example",
                            rcpt_tos=(MAILBOX,),
                            received_at=when,
                        ),
                    )
                    for blob, when in zip(blobs, times, strict=True)
                ]
                stores.metadata.commit_messages(records)
                leased = stores.metadata.lease_batch("bench-seed", len(records), 600)
                stores.metadata.ack([item.id for item in leased], "bench-seed")
                parsed = [parse_message(raw) for raw in raws]
                stored = stores.metadata.store_entries(
                    [
                        NewEntry(
                            tenant_id=tenant.id,
                            mailbox_id=mailbox.id,
                            message_id=record.ref.id,
                            subject=one.subject,
                            from_addr=one.from_addr,
                            to_addrs=one.to_addrs,
                            date=one.date,
                            size=record.ref.size,
                            folder="INBOX",
                            tags=(),
                            thread=thread_headers(one.headers),
                        )
                        for record, one in zip(records, parsed, strict=True)
                    ]
                )
                entries = [entry for entry in stored if entry is not None]
                if len(entries) != len(records):
                    raise RuntimeError("the store refused some seeded entries")
                stores.search.index(
                    [search_document(e, p) for e, p in zip(entries, parsed, strict=True)]
                )
                entry_ids.extend(entry.id for entry in entries)
        return Seeded(MAILBOX, mailbox.id, entry_ids, WORDS)
    finally:
        stores.close()


@dataclass(frozen=True)
class Pass:
    """One pass of the benchmark: its name, data directory and config file."""

    name: str
    data_dir: Path
    config_file: Path

    def settings(self) -> Settings:
        return load_settings(self.config_file, data_dir=self.data_dir)


API_SECTION = (
    "[api]\n"
    "# The benchmark measures the API, not its per-token limiter: 0 turns it off.\n"
    "rate_limit_per_second = 0\n"
)


@contextlib.contextmanager
def embedded_pass(scratch: Path) -> Iterator[Pass]:
    """SQLite, local files and FTS5 under ``scratch`` (the defaults of ``mairust up``)."""
    config = scratch / "bench-embedded.toml"
    config.write_text(API_SECTION)
    yield Pass("embedded (SQLite + files + FTS5)", scratch / "data", config)


@contextlib.contextmanager
def production_pass(scratch: Path) -> Iterator[Pass]:
    """A new database on the PostgreSQL server, a new prefix in the S3 bucket and a new index
    on the OpenSearch node of MAIRUST_TEST_*; all three are removed on the way out."""
    suffix = secrets.token_hex(5)
    server = sa.make_url(os.environ["MAIRUST_TEST_POSTGRES_URL"])
    database = f"mairust_bench_api_{suffix}"
    s3 = urlsplit(os.environ["MAIRUST_TEST_S3_URL"])
    prefix = f"bench-api-{suffix}"
    index = f"mairust-bench-api-{suffix}"
    search = os.environ["MAIRUST_TEST_OPENSEARCH_URL"]
    config = scratch / "bench-production.toml"
    config.write_text(
        API_SECTION + "[storage]\n"
        f'metadata = "{server.set(database=database).render_as_string(hide_password=False)}"\n'
        f'blobs = "s3://{s3.netloc}/{prefix}?{s3.query}"\n'
        f'search = "{search}?index={index}&replicas=0"\n'
        # Nodes that share PostgreSQL share one configured master key (tokens, secrets).
        f'[secrets]\nkey = "{base64.b64encode(os.urandom(32)).decode()}"\n'
    )
    admin = sa.create_engine(_postgres_driver_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    try:
        yield Pass("production (PostgreSQL + S3 + OpenSearch)", scratch / "data", config)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()
        _delete_s3_prefix(s3.netloc, prefix, s3.query)
        _delete_index(search, index)


def _postgres_driver_url(server: sa.URL) -> sa.URL:
    from mairust.storage.sql_engine import postgres_url

    return postgres_url(server)


def _delete_s3_prefix(bucket: str, prefix: str, query: str) -> None:
    import boto3  # type: ignore[import-untyped]

    options = {key: values[-1] for key, values in parse_qs(query).items()}
    client = boto3.client(
        "s3", endpoint_url=options.get("endpoint"), region_name=options.get("region")
    )
    deleted = 0
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    for page in pages:
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    log.info("deleted %d objects under s3://%s/%s/", deleted, bucket, prefix)


def _delete_index(search_url: str, index: str) -> None:
    import httpx

    parts = urlsplit(search_url)
    response = httpx.delete(f"http://{parts.hostname}:{parts.port}/{index}", timeout=30)
    log.info("deleted index %s: %s", index, response.status_code)
