"""``create_backup``: a consistent backup of a running (or stopped) installation.

Consistency while mail keeps arriving comes from the order of the work. The spool makes a
blob durable (fsync, or S3's answer) before the transaction that commits its message row,
so every blob a committed row names exists. The metadata is copied first, as of one commit
(one snapshot), then every blob that snapshot names: each is there. Blobs written later
are not copied, and rows committed later are not in the snapshot. A blob can only be gone
if its message was purged between the snapshot and the copy; it is then listed in the
manifest as missing (the restored message would have been deleted a moment later).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from mairust import __version__
from mairust.backup.files import CONFIG_NAME, DATA_FILES, config_without_key, data_files
from mairust.backup.manifest import MANIFEST, BackupRefused, Manifest, file_sha256
from mairust.backup.progress import NoProgress, ProgressReport
from mairust.backup.tables import copy_sqlite, dump_tables, sqlite_facts
from mairust.config import Settings, decode_secrets_key
from mairust.errors import NotFound
from mairust.secrets.keyring import Keyring
from mairust.secrets.master_key import KEY_FILE
from mairust.storage.factory import open_stores
from mairust.storage.protocols import BlobStore
from mairust.storage.sql_engine import sqlite_path

log = logging.getLogger(__name__)

BLOBS = "blobs"
MASTER_KEY = "master_key"
METADATA_DB = "metadata.db"
METADATA_ROWS = "metadata"
SEARCH_DB = "search.db"
_COPY_THREADS = 8  # S3 answers one GET at a time per connection: a few in flight


def create_backup(
    settings: Settings,
    destination: Path,
    *,
    config_file: Path | None = None,
    include_master_key: bool = False,
    progress: ProgressReport | None = None,
) -> Manifest:
    """Back up the installation ``settings`` names into the new directory ``destination``."""
    report = progress or NoProgress()
    destination = destination.expanduser().resolve()
    _check_destination(destination)
    destination.mkdir(parents=True, exist_ok=True)

    report.stage("metadata snapshot", None)
    url = settings.storage.metadata
    backend = sa.make_url(url).get_backend_name()
    if backend == "sqlite":
        copy_sqlite(sqlite_path(url), destination / METADATA_DB)
        revision, counts, keys = sqlite_facts(destination / METADATA_DB)
    else:
        revision, counts, keys = dump_tables(url, destination / METADATA_ROWS, report.advance)

    stores = open_stores(settings.storage)
    try:
        report.stage("blobs", len(keys))
        copied, size, missing = _copy_blobs(stores.blobs, sorted(keys), destination, report)
    finally:
        stores.close()

    search_included = _copy_search(settings, destination, report)
    config_included = _copy_config(config_file, destination, include_master_key)
    _copy_data_files(settings.data_dir, destination, report)
    master_included = include_master_key and _write_master_key(settings, destination)

    report.stage("checksums", None)
    os.sync()  # everything on disk before the manifest says the backup is whole
    manifest = Manifest(
        mairust_version=__version__,
        created_at=datetime.now(UTC).isoformat(),
        schema_revision=revision,
        metadata_backend="sqlite" if backend == "sqlite" else "postgresql",
        row_counts=counts,
        blob_count=copied,
        blob_bytes=size,
        search_included=search_included,
        master_key_included=master_included,
        key_ids=list(key_ids_of(settings)),
        config_included=config_included,
        files=_checksums(destination),
        missing_blobs=missing,
    )
    manifest.write(destination)
    if missing:
        log.warning("%d blobs were purged during the backup: %s", len(missing), missing[:5])
    return manifest


def _check_destination(destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupRefused(f"{destination} exists and is not an empty directory")


def _copy_blobs(
    blobs: BlobStore, keys: list[str], destination: Path, report: ProgressReport
) -> tuple[int, int, list[str]]:
    """Copy each blob to ``blobs/ab/cdef…``; (copied, bytes, keys not found)."""

    def copy(key: str) -> int | None:
        try:
            data = blobs.get(key)
        except NotFound:
            return None
        if hashlib.sha256(data).hexdigest() != key:
            raise BackupRefused(f"blob {key} in the blob store does not match its key")
        path = destination / BLOBS / key[:2] / key[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)

    copied, size, missing = 0, 0, []
    with ThreadPoolExecutor(_COPY_THREADS, thread_name_prefix="backup-blob") as pool:
        for key, written in zip(keys, pool.map(copy, keys), strict=True):
            if written is None:
                missing.append(key)
            else:
                copied, size = copied + 1, size + written
            report.advance(1)
    return copied, size, missing


def _copy_search(settings: Settings, destination: Path, report: ProgressReport) -> bool:
    """Copy the FTS5 index (taken after the metadata: it may hold documents of later
    entries, which search leaves out as it does any entry it cannot find); OpenSearch is
    rebuilt on restore instead (`mairust search reindex`)."""
    parts = urlsplit(settings.storage.search)
    path = Path(parts.path)
    if parts.scheme.lower() != "fts5" or not path.is_file():
        return False
    report.stage("search index", None)
    copy_sqlite(path, destination / SEARCH_DB)
    return True


def _copy_config(config_file: Path | None, destination: Path, include_master_key: bool) -> bool:
    if config_file is None:
        return False
    text = config_file.read_text(encoding="utf-8")
    if not include_master_key:
        text = config_without_key(text)
    (destination / CONFIG_NAME).write_text(text, encoding="utf-8")
    (destination / CONFIG_NAME).chmod(0o600)  # it may hold credentials
    return True


def _copy_data_files(data_dir: Path, destination: Path, report: ProgressReport) -> None:
    names = list(data_files(data_dir, exclude=destination))
    report.stage("data dir files", len(names))
    for name in names:
        target = destination / DATA_FILES / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(data_dir / name, target)
        report.advance(1)


def _write_master_key(settings: Settings, destination: Path) -> bool:
    """The master key (first line) and the previous keys, base64, one a line (0600)."""
    keys = configured_keys(settings)
    if not keys:
        return False
    path = destination / MASTER_KEY
    path.touch(mode=0o600)
    path.write_text("".join(base64.b64encode(key).decode() + "\n" for key in keys))
    return True


def configured_keys(settings: Settings) -> list[bytes]:
    """The current key then the previous ones, without generating one (an embedded data
    dir that never made its key file has no secrets to open)."""
    previous = [decode_secrets_key(k.get_secret_value()) for k in settings.secrets.previous_keys]
    if settings.secrets.key is not None:
        return [decode_secrets_key(settings.secrets.key.get_secret_value()), *previous]
    key_file = settings.data_dir / KEY_FILE
    if key_file.is_file():
        return [decode_secrets_key(key_file.read_text(encoding="ascii")), *previous]
    return []


def key_ids_of(settings: Settings) -> Iterable[str]:
    keys = configured_keys(settings)
    return Keyring.from_bytes(keys[0], keys[1:]).key_ids if keys else ()


def _checksums(destination: Path) -> dict[str, str]:
    """sha256 of every file but the manifest and the (self-checking) blobs."""
    return {
        str(path.relative_to(destination)): file_sha256(path)
        for path in sorted(destination.rglob("*"))
        if path.is_file()
        and path.name != MANIFEST
        and path.relative_to(destination).parts[0] != BLOBS
    }
