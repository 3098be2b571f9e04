"""Backups taken while mail keeps arriving, restored into new stores: every message the
restored metadata names reads back byte for byte, counts equal the manifest, the sealed
secret opens with the key, search finds the mail. Embedded stores, then PostgreSQL + S3 +
OpenSearch (the index rebuilt on restore)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mairust.backup.create import create_backup
from mairust.backup.manifest import BackupRefused, Manifest
from mairust.backup.restore import restore_backup
from mairust.config import Settings
from mairust.model.scope import PLATFORM
from mairust.storage.factory import open_stores
from tests.support.backup_worlds import (
    SECRET,
    WaitForWritesAfterSnapshot,
    World,
    build_world,
    revealed_secret,
    spool_one,
    stored_messages,
    writing_mail,
)
from tests.support.opensearch_indexes import admin_client, fresh_index_url
from tests.support.postgres_databases import PostgresDatabases, postgres_test_url
from tests.support.s3_buckets import object_names, s3_test_url, with_fresh_prefix

SEEDED = 30


def backup_while_writing(settings: Settings, world: World, destination: Path) -> Manifest:
    progress = WaitForWritesAfterSnapshot(world)
    with writing_mail(settings, world) as started:
        assert started.wait(30)
        before = world.committed
        manifest = create_backup(settings, destination, progress=progress)
    # The snapshot holds the seeded messages and what the writer had committed by the time
    # it was taken (one more may have committed before the writer counted it), not the ones
    # it committed while the blobs were being copied.
    assert progress.committed_at_snapshot is not None
    in_snapshot = manifest.row_counts["messages"] - SEEDED
    assert before <= in_snapshot <= progress.committed_at_snapshot + 1
    assert in_snapshot < world.committed
    return manifest


def assert_restored(settings: Settings, world: World, manifest: Manifest) -> None:
    rows = stored_messages(settings)
    assert len(rows) == manifest.row_counts["messages"] > SEEDED
    assert manifest.blob_count == len({key for _, key in rows})
    assert manifest.missing_blobs == []
    stores = open_stores(settings.storage)
    try:
        for sha256, key in rows:
            assert stores.blobs.get(key) == world.bodies[sha256]
        hits = stores.search.search(PLATFORM, "backupword", limit=1000)
        assert len({hit.entry_id for hit in hits}) == SEEDED  # the delivered ones
    finally:
        stores.close()
    assert revealed_secret(settings, world.secret_id) == SECRET


def test_embedded_backup_while_writing_restores_every_message(tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "source")
    world = build_world(source, SEEDED)
    manifest = backup_while_writing(source, world, tmp_path / "backup")
    assert manifest.metadata_backend == "sqlite" and manifest.search_included
    assert not manifest.master_key_included and len(manifest.key_ids) == 1
    assert not (tmp_path / "backup" / "data" / "secrets_key").exists()

    target = Settings(data_dir=tmp_path / "target")
    # The key is not in the backup: it travels apart, as the operator was told.
    target.data_dir.mkdir()
    (target.data_dir / "secrets_key").write_bytes((source.data_dir / "secrets_key").read_bytes())
    report = restore_backup(target, tmp_path / "backup")
    assert report.warnings == [] and report.reindexed is None  # the FTS5 copy came along
    assert report.blobs == manifest.blob_count
    assert_restored(target, world, manifest)


@pytest.fixture
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_test_url())
    yield databases
    databases.close()


def test_production_backup_while_writing_restores_every_message(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    index_url = fresh_index_url()
    with (
        postgres_databases.database(migrated=False) as source_db,
        postgres_databases.database(migrated=False) as target_db,
    ):
        source = Settings(
            data_dir=tmp_path / "source",
            storage={
                "metadata": source_db,
                "blobs": with_fresh_prefix(s3_test_url()),
                "search": index_url,
            },
            secrets={"key": key},
        )
        try:
            world = build_world(source, SEEDED)
            manifest = backup_while_writing(source, world, tmp_path / "backup")
        finally:
            client = admin_client()
            client.indices.delete(index=index_url.split("index=")[1].split("&")[0])
            client.close()
        assert manifest.metadata_backend == "postgresql" and not manifest.search_included

        target_blobs = with_fresh_prefix(s3_test_url())
        target = Settings(
            data_dir=tmp_path / "target",
            # The index is rebuilt from metadata and blobs: an embedded one will do here.
            storage={"metadata": target_db, "blobs": target_blobs},
            secrets={"key": key},
        )
        report = restore_backup(target, tmp_path / "backup")
        assert report.warnings == []
        assert report.reindexed == SEEDED
        assert len(object_names(target_blobs)) == manifest.blob_count
        assert_restored(target, world, manifest)
        # New queue rows after a restore get new ids: the sequences were moved past the
        # restored ones (else this insert would collide with a restored id).
        spool_one(target)
        assert len(stored_messages(target)) == manifest.row_counts["messages"] + 1
        with pytest.raises(BackupRefused, match="the metadata database holds data"):
            restore_backup(target, tmp_path / "backup")
        # --force replaces what is there (the schema dropped and made again), no mixture.
        restore_backup(target, tmp_path / "backup", force=True)
        assert len(stored_messages(target)) == manifest.row_counts["messages"]
