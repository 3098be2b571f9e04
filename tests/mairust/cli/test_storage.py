"""``mairust storage sweep`` on the S3 test server and on the embedded stores."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
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
        assert "1 orphaned, would delete 1" in dry.output, dry.output
        assert store.exists(orphan.key)
        swept = runner.invoke(app, [*args, "--older-than", "0"])
        assert swept.exit_code == 0, swept.output
        assert "1 orphaned, deleted 1" in swept.output
        assert not store.exists(orphan.key)
    finally:
        store.close()


def test_sweep_on_embedded_stores_says_there_is_nothing_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["storage", "sweep", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "nothing to sweep" in result.output
