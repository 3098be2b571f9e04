"""Backends of each storage role under contract test.

Adding a backend is one line in the matching dict below (PostgreSQL, S3 and
OpenSearch go here): every contract test then runs against it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.fts5_search import Fts5SearchIndex
from mairust.storage.protocols import BlobStore, SearchIndex
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.opensearch_indexes import fresh_opensearch_index
from tests.support.postgres_databases import PostgresDatabases, postgres_test_url
from tests.support.s3_buckets import fresh_s3_blob_store
from tests.support.sqlite_template import upgrade_to_head_for_test

# name -> a fresh database URL for one test, given the test's request and tmp_path
# (a context: whatever the database needs removing goes when the test ends)
MetadataDatabase = Callable[[pytest.FixtureRequest, Path], AbstractContextManager[str]]
METADATA_URLS: dict[str, MetadataDatabase] = {
    "sqlite": lambda _, tmp: nullcontext(f"sqlite:///{tmp / 'metadata.db'}"),
    "postgresql": lambda request, _: request.getfixturevalue("postgres_databases").database(),
}
# name -> how to open a fresh, empty store for one test
BLOB_BACKENDS: dict[str, Callable[[Path], BlobStore]] = {
    "file": lambda tmp: FileBlobStore(tmp / "blobs"),
    "s3": fresh_s3_blob_store,  # a fresh prefix; fails (never skips) when no server is running
}
SEARCH_BACKENDS: dict[str, Callable[[Path], SearchIndex]] = {
    "fts5": lambda tmp: Fts5SearchIndex(tmp / "search.db"),
    "opensearch": fresh_opensearch_index,  # fails (never skips) when no node is running
}


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """Databases on the test PostgreSQL server; fails (never skips) when none is running."""
    databases = PostgresDatabases(postgres_test_url())
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own that nothing has migrated yet, on each backend
    (PostgreSQL: created and dropped on the test server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    with databases.database(migrated=False) as url:
        yield url


@pytest.fixture(params=sorted(METADATA_URLS))
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty metadata database."""
    with METADATA_URLS[request.param](request, tmp_path) as url:
        upgrade_to_head_for_test(url)
        yield url


@pytest.fixture
def metadata_store(metadata_url: str) -> Iterator[SqlMetadataStore]:
    store = SqlMetadataStore(metadata_url)
    yield store
    store.close()


@pytest.fixture(params=sorted(BLOB_BACKENDS))
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    store = BLOB_BACKENDS[request.param](tmp_path)
    yield store
    store.close()


@pytest.fixture(params=sorted(SEARCH_BACKENDS))
def search_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    index = SEARCH_BACKENDS[request.param](tmp_path)
    yield index
    index.close()


RecordMaker = Callable[..., SpoolRecord]


@pytest.fixture
def make_record() -> RecordMaker:
    """Builds a SpoolRecord: ``make_record("a@x.test", "b@x.test", body=b"...")``."""

    def make(
        *rcpts: str,
        body: bytes | None = None,
        message_id: str | None = None,
        mail_from: str = "sender@remote.test",
        received_at: datetime | None = None,
    ) -> SpoolRecord:
        data = body if body is not None else f"Subject: {new_id()}\r\n\r\nhi\r\n".encode()
        digest = hashlib.sha256(data).hexdigest()
        return SpoolRecord(
            ref=MessageRef(
                id=message_id or new_id(), size=len(data), sha256=digest, blob_key=digest
            ),
            envelope=Envelope(
                mail_from=mail_from,
                rcpt_tos=rcpts,
                received_at=received_at or datetime.now(UTC),
                helo="client.remote.test",
                client_ip="127.0.0.1",
            ),
        )

    return make
