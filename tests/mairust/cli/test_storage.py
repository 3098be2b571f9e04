"""``mairust storage sweep`` on the S3 test server and on the embedded (file) blob store."""

from __future__ import annotations

import os
import time
from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.s3_blobs import S3BlobStore
from tests.support.s3_buckets import s3_test_url, with_fresh_prefix


def test_sweep_removes_orphans_from_s3(tmp_path: Path) -> None:
    blobs = with_fresh_prefix(s3_test_url())
    config = tmp_path / "mairust.toml"
    config.write_text(f'[storage]\nblobs = "{blobs}"\n')
    store = S3BlobStore.from_url(blobs)
    try:
        orphan = store.put(b"Subject: orphan\r\n\r\nno message row names me\r\n")
        args = ["storage", "sweep", "--data-dir", str(tmp_path), "--config", str(config)]
        runner = CliRunner()
        young = runner.invoke(app, args)
        assert young.exit_code == 0, young.output
        assert "examined 0 blobs" in young.output  # younger than the default hour
        dry = runner.invoke(app, [*args, "--older-than", "0", "--dry-run"])
        assert "1 orphaned, would delete 1; would abort 0" in dry.output, dry.output
        assert store.exists(orphan.key)
        swept = runner.invoke(app, [*args, "--older-than", "0"])
        assert swept.exit_code == 0, swept.output
        assert "1 orphaned, deleted 1; aborted 0 of 0 unfinished uploads" in swept.output
        assert not store.exists(orphan.key)
    finally:
        store.close()


def test_sweep_removes_old_orphans_and_temporary_files_from_the_file_store(
    tmp_path: Path,
) -> None:
    store = FileBlobStore(tmp_path / "blobs")  # where --data-dir puts the embedded blobs
    old, fresh = store.put(b"Subject: old\r\n\r\n"), store.put(b"Subject: fresh\r\n\r\n")
    temp = store.root / "ab" / ".tmp-killed"
    temp.write_bytes(b"Subject: half")
    two_hours_ago = time.time() - 7200
    for path in (store.root / old.key[:2] / old.key[2:], temp):
        os.utime(path, (two_hours_ago, two_hours_ago))
    args = ["storage", "sweep", "--data-dir", str(tmp_path)]
    runner = CliRunner()

    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "examined 1 blobs; 1 orphaned, would delete 1; would abort 1" in dry.output
    assert store.exists(old.key) and temp.exists()
    swept = runner.invoke(app, args)  # the default grace period: an hour
    assert swept.exit_code == 0, swept.output
    assert "examined 1 blobs; 1 orphaned, deleted 1; aborted 1 of 1 unfinished" in swept.output
    assert not store.exists(old.key) and not temp.exists()
    assert store.exists(fresh.key)
