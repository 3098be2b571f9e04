"""``mairust backup`` and ``mairust restore`` on an embedded data dir: what the operator
reads (the master-key note, the counts, the warnings) and the exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.config import Settings
from tests.support.backup_worlds import SECRET, build_world, revealed_secret


def test_backup_then_restore_without_the_master_key(tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "source")
    build_world(source, 2)
    (source.data_dir / "tls").mkdir()
    (source.data_dir / "tls" / "cert.pem").write_text("not a real certificate\n")
    runner = CliRunner()

    made = runner.invoke(app, ["backup", str(tmp_path / "b"), "--data-dir", str(source.data_dir)])
    assert made.exit_code == 0, made.output
    assert "2 blobs" in made.output and "search index included" in made.output
    assert "The master key is NOT in this backup" in made.output

    again = runner.invoke(app, ["backup", str(tmp_path / "b"), "--data-dir", str(source.data_dir)])
    assert again.exit_code == 1 and "is not an empty directory" in again.output

    target = tmp_path / "target"
    restored = runner.invoke(app, ["restore", str(tmp_path / "b"), "--data-dir", str(target)])
    assert restored.exit_code == 0, restored.output
    assert "2 blobs" in restored.output and "1 data dir files" in restored.output
    assert "NO MASTER KEY" in restored.output  # the secret cannot open without it
    assert (target / "tls" / "cert.pem").read_text() == "not a real certificate\n"
    assert not (target / "secrets_key").exists()

    refused = runner.invoke(app, ["restore", str(tmp_path / "b"), "--data-dir", str(target)])
    assert refused.exit_code == 1 and "--force" in refused.output


def test_backup_with_the_master_key_restores_openable_secrets(tmp_path: Path) -> None:
    source = Settings(data_dir=tmp_path / "source")
    world = build_world(source, 1)
    runner = CliRunner()
    made = runner.invoke(
        app,
        ["backup", str(tmp_path / "b"), "--data-dir", str(source.data_dir), "--include-master-key"],
    )
    assert made.exit_code == 0, made.output
    assert "This backup holds the master key" in made.output
    assert (tmp_path / "b" / "master_key").stat().st_mode & 0o077 == 0

    target = Settings(data_dir=tmp_path / "target")
    restored = runner.invoke(
        app, ["restore", str(tmp_path / "b"), "--data-dir", str(target.data_dir)]
    )
    assert restored.exit_code == 0, restored.output
    assert "warning" not in restored.output
    assert revealed_secret(target, world.secret_id) == SECRET
