"""Open the backend of each storage role from its URL (one dispatch per role).

Supported now (the embedded defaults): ``sqlite:////abs/metadata.db``,
``file:///abs/blobs``, ``fts5:///abs/search.db``. PostgreSQL, S3 and OpenSearch
are added as further schemes in the ``_open_*`` functions below.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from mairust.config import StorageSettings
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.fts5_search import Fts5SearchIndex
from mairust.storage.protocols import BlobStore, MetadataStore, PluginStateStore, SearchIndex
from mairust.storage.sql_engine import postgres_url, sqlite_path
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.stores import Stores

if TYPE_CHECKING:
    from mairust.storage.schema_revisions import SchemaVerdict

# S3 (boto3), OpenSearch (opensearch-py, aiohttp) and migrations (alembic) are imported when
# a URL or `migrate` needs them: every Ray worker of `mairust up` opens stores, and these
# imports were a tenth of each worker's start-up CPU on the embedded defaults.

log = logging.getLogger(__name__)

_METADATA_SCHEMES = ("sqlite", "postgresql", "postgres")
_BLOB_SCHEMES = ("file", "s3")
_SEARCH_SCHEMES = ("fts5", "opensearch")


def open_stores(storage: StorageSettings) -> Stores:
    """Open the three roles named by ``storage``; ValueError for a URL we cannot serve.

    The metadata schema must already be migrated (see :func:`migrate`).
    """
    with ExitStack() as opened:  # a failure closes what was already open
        metadata = _open_metadata(storage.metadata)
        opened.callback(metadata.close)
        blobs = _open_blobs(storage.blobs, storage)
        opened.callback(blobs.close)
        search = _open_search(storage.search)
        opened.pop_all()
    return Stores(metadata=metadata, blobs=blobs, search=search)


def open_plugin_state(storage: StorageSettings) -> PluginStateStore:
    """The metadata store alone, for a serve plugin's replica that keeps state (it needs
    neither bodies nor search); the caller closes it (``close``) when done."""
    return _open_metadata(storage.metadata)


def migrate(storage: StorageSettings) -> SchemaVerdict:
    """Upgrade the metadata schema to the newest revision (idempotent, process-safe).

    A schema newer than this code is left as it is (SchemaTooNew if this code may not
    run on it); the verdict returned is the one found before upgrading.
    """
    from mairust.storage.schema_revisions import Relation
    from mairust.storage.sql_migrations import upgrade_to_head

    _check_metadata_url(storage.metadata)
    found = upgrade_to_head(storage.metadata)
    if found.relation is not Relation.AHEAD:
        log.info("metadata schema at head: %s", sa.make_url(storage.metadata))
    return found


def schema_status(storage: StorageSettings) -> SchemaVerdict:
    """Where the metadata schema stands against this code; changes nothing."""
    from mairust.storage.sql_migrations import schema_verdict

    _check_metadata_url(storage.metadata)
    return schema_verdict(storage.metadata)


def _open_metadata(url: str) -> MetadataStore:
    _check_metadata_url(url)
    return SqlMetadataStore(url)


def _check_metadata_url(url: str) -> None:
    """``sqlite:////abs/file.db`` or ``postgresql://user:pass@host:port/db``; else ValueError."""
    _check_scheme("metadata", url, _METADATA_SCHEMES)
    if sa.make_url(url).get_backend_name() == "sqlite":
        sqlite_path(url)  # refuses relative and in-memory paths
    else:
        postgres_url(url)  # refuses a URL without a database name


def _open_blobs(url: str, storage: StorageSettings | None = None) -> BlobStore:
    _check_scheme("blobs", url, _BLOB_SCHEMES)
    if urlsplit(url).scheme.lower() == "s3":
        from mairust.storage.s3_blobs import S3BlobStore

        secret = storage.s3_secret_access_key if storage else None
        return S3BlobStore.from_url(  # s3://bucket/prefix?endpoint=...&region=...
            url,
            access_key_id=storage.s3_access_key_id if storage else None,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return FileBlobStore(_local_path("blobs", url))


def _open_search(url: str) -> SearchIndex:
    _check_scheme("search", url, _SEARCH_SCHEMES)
    if urlsplit(url).scheme.lower() == "opensearch":
        from mairust.storage.opensearch_search import OpenSearchIndex

        return OpenSearchIndex(url)  # opensearch://host:port?index=NAME
    return Fts5SearchIndex(_local_path("search", url))


def _check_scheme(role: str, url: str, supported: tuple[str, ...]) -> None:
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme not in supported:
        names = ", ".join(f"{s}://" for s in supported)
        raise ValueError(f"unsupported {role} store URL {url!r}: supported schemes are {names}")


def _local_path(role: str, url: str) -> Path:
    """The absolute path of ``scheme:///abs/path``; ValueError for anything else."""
    parts = urlsplit(url)
    path = Path(unquote(parts.path))
    if parts.netloc or not path.is_absolute() or parts.query or parts.fragment:
        raise ValueError(f"{role} store URL must be {parts.scheme}:///absolute/path, got {url!r}")
    return path
