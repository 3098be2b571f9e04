"""``restore_backup``: an installation back from a backup, into empty stores.

The platform must be stopped. The target must be empty (no metadata rows, no blob files,
no search index, no data dir files the backup brings) unless ``force``. Nothing is written
until the backup has passed its checks: finished (it has a manifest), every file matching
its checksum, as many blobs as the manifest counts, a schema revision the code knows, a
target of the same metadata backend. Blobs go first (each checked against its name as it
is read), then the metadata (checked against the manifest's row counts), which is then
migrated to the newest schema; the search index is copied (FTS5) or rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from mairust.backup.create import (
    BLOBS,
    MASTER_KEY,
    METADATA_DB,
    METADATA_ROWS,
    SEARCH_DB,
    configured_keys,
    key_ids_of,
)
from mairust.backup.files import (
    CONFIG_NAME,
    DATA_FILES,
    existing_data_files,
    restore_data_files,
)
from mairust.backup.manifest import BackupRefused, Manifest
from mairust.backup.progress import NoProgress, ProgressReport
from mairust.backup.tables import (
    check_revision_known,
    copy_sqlite,
    load_tables,
    row_counts,
    sqlite_facts,
)
from mairust.config import Settings
from mairust.search.indexing import drain_search_backlog, reindex_all
from mairust.secrets.master_key import KEY_FILE
from mairust.secrets.private_file import read_or_create_private_file
from mairust.storage.factory import migrate, open_stores
from mairust.storage.protocols import BlobStore
from mairust.storage.sql_engine import sqlite_path

log = logging.getLogger(__name__)

_COPY_THREADS = 8
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass(slots=True)
class RestoreReport:
    """What a restore did, and what the operator must still see to."""

    manifest: Manifest
    blobs: int = 0
    reindexed: int | None = None  # entries indexed, when the index was rebuilt
    files: int = 0
    warnings: list[str] = field(default_factory=list)


def restore_backup(
    settings: Settings,
    source: Path,
    *,
    force: bool = False,
    progress: ProgressReport | None = None,
) -> RestoreReport:
    """Restore the backup at ``source`` into the stores ``settings`` names."""
    report = progress or NoProgress()
    source = source.expanduser().resolve()
    manifest = Manifest.read(source)
    check_revision_known(manifest.schema_revision)
    backend = sa.make_url(settings.storage.metadata).get_backend_name()
    target_backend = "sqlite" if backend == "sqlite" else "postgresql"
    if manifest.metadata_backend != target_backend:
        raise BackupRefused(
            f"a {manifest.metadata_backend} backup cannot be restored into {target_backend} "
            "metadata (restore it into the backend it came from)"
        )
    report.stage("verifying checksums", None)
    manifest.verify_files(source)
    blob_files = sorted(_blob_files(source / BLOBS))
    if len(blob_files) != manifest.blob_count:
        raise BackupRefused(
            f"backup damaged: {len(blob_files)} blobs, the manifest counts {manifest.blob_count}"
        )
    if not force:
        _require_empty(settings, source)

    result = RestoreReport(manifest)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stores = open_stores(settings.storage)
    try:
        report.stage("blobs", len(blob_files))
        result.blobs = _restore_blobs(stores.blobs, blob_files, report)
    finally:
        stores.close()

    report.stage("metadata", sum(manifest.row_counts.values()))
    _restore_metadata(settings, source, manifest, report)
    report.stage("schema upgrade", None)
    migrate(settings.storage)

    result.files = restore_data_files(source / DATA_FILES, settings.data_dir, force)
    _restore_master_key(settings, source, manifest, result)
    result.reindexed = _restore_search(settings, source, manifest, force, report)
    if manifest.config_included:
        result.warnings.append(
            f"the backup's config file is {source / CONFIG_NAME}: it names the stores it was "
            "taken from; compare it with the config you run with"
        )
    if manifest.missing_blobs:
        result.warnings.append(
            f"{len(manifest.missing_blobs)} messages lost their blob while the backup ran "
            "(purged meanwhile); their rows are restored without a body"
        )
    return result


def _require_empty(settings: Settings, source: Path) -> None:
    existing = existing_data_files(source / DATA_FILES, settings.data_dir)
    if existing:
        raise BackupRefused(f"{existing[0]} exists: restore into an empty data dir, or --force")
    url = settings.storage.metadata
    if sa.make_url(url).get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path.exists() and any(sqlite_facts(path)[1].values()):
            raise BackupRefused(f"{path} holds data: restore into an empty data dir, or --force")
    elif any(row_counts(url).values()):
        raise BackupRefused(
            "the metadata database holds data: restore into an empty one, or --force"
        )
    blobs = urlsplit(settings.storage.blobs)
    if blobs.scheme == "file" and any(_blob_files(Path(blobs.path))):
        raise BackupRefused(f"{blobs.path} holds blobs: restore into an empty data dir, or --force")
    search = urlsplit(settings.storage.search)
    if search.scheme == "fts5" and Path(search.path).exists():
        raise BackupRefused(f"{search.path} exists: restore into an empty data dir, or --force")


def _blob_files(root: Path) -> Iterator[Path]:
    """The blob files under ``root`` (``ab/cdef…``), not temporary or stray files."""
    if not root.is_dir():
        return
    for shard in root.iterdir():
        if shard.is_dir() and len(shard.name) == 2:
            for path in shard.iterdir():
                if len(path.name) == 62 and path.is_file():
                    yield path


def _restore_blobs(blobs: BlobStore, paths: list[Path], report: ProgressReport) -> int:
    def restore(path: Path) -> None:
        key = path.parent.name + path.name
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != key:
            raise BackupRefused(f"backup damaged: blob {key} does not match its checksum")
        stored = blobs.put(data)
        if stored.key != key:  # every blob store we have is content-addressed
            raise BackupRefused(f"blob {key} was stored as {stored.key}: not restorable here")

    with ThreadPoolExecutor(_COPY_THREADS, thread_name_prefix="restore-blob") as pool:
        for _ in pool.map(restore, paths):
            report.advance(1)
    return len(paths)


def _restore_metadata(
    settings: Settings, source: Path, manifest: Manifest, report: ProgressReport
) -> None:
    url = settings.storage.metadata
    if manifest.metadata_backend == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in _SQLITE_SIDE_FILES:  # empty or --force: the platform is stopped
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        copy_sqlite(source / METADATA_DB, target)
        counts = sqlite_facts(target)[1]
        report.advance(sum(counts.values()))
    else:
        counts = load_tables(url, source / METADATA_ROWS, manifest.schema_revision, report.advance)
    if counts != manifest.row_counts:
        differ = sorted(
            name
            for name in {*counts, *manifest.row_counts}
            if counts.get(name) != manifest.row_counts.get(name)
        )
        raise BackupRefused(f"restored row counts differ from the manifest in: {differ}")


def _restore_search(
    settings: Settings, source: Path, manifest: Manifest, force: bool, report: ProgressReport
) -> int | None:
    """Copy the FTS5 index when the backup has one and the target is FTS5; else rebuild the
    index from the restored metadata and blobs (returns how many entries)."""
    search = urlsplit(settings.storage.search)
    if manifest.search_included and search.scheme == "fts5":
        report.stage("search index", None)
        target = Path(search.path)
        for suffix in _SQLITE_SIDE_FILES:
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        copy_sqlite(source / SEARCH_DB, target)
        return None
    stores = open_stores(settings.storage)
    try:
        report.stage("reindexing", manifest.row_counts.get("entries"))
        indexed = reindex_all(stores, progress=report.advance)
        return indexed + drain_search_backlog(stores)
    finally:
        stores.close()


def _restore_master_key(
    settings: Settings, source: Path, manifest: Manifest, result: RestoreReport
) -> None:
    """Put the backed-up key where an embedded platform reads it, if none is configured;
    otherwise check that the configured keys can open the restored secrets."""
    embedded = urlsplit(settings.storage.metadata).scheme == "sqlite"
    key_file = settings.data_dir / KEY_FILE
    if manifest.master_key_included and embedded and settings.secrets.key is None:
        current = (source / MASTER_KEY).read_text(encoding="ascii").splitlines()[0]
        read_or_create_private_file(key_file, lambda: (current + "\n").encode("ascii"))
    elif manifest.master_key_included:
        result.warnings.append(
            f"the master key is in {source / MASTER_KEY} (current first, then previous "
            "keys): configure it as secrets.key / MAIRUST_SECRETS__KEY"
        )
    if not manifest.key_ids:
        return
    if not configured_keys(settings):
        result.warnings.append(
            f"NO MASTER KEY: the restored secrets were sealed with key id {manifest.key_ids[0]}; "
            "put that key in place (secrets.key, or the embedded data dir's secrets_key) "
            "before starting, or secrets, API tokens and SRS addresses will not work"
        )
    elif manifest.key_ids[0] not in set(key_ids_of(settings)):
        result.warnings.append(
            f"WRONG MASTER KEY: the backup's secrets were sealed with key id "
            f"{manifest.key_ids[0]}, the configured keys are {sorted(key_ids_of(settings))}"
        )
