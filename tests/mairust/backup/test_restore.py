"""What a restore refuses, before it writes anything: an unfinished or damaged backup, one
from a newer schema, a target holding data (unless --force), another metadata backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mairust.backup.create import create_backup
from mairust.backup.manifest import MANIFEST, BackupRefused
from mairust.backup.restore import restore_backup
from mairust.config import Settings
from tests.support.backup_worlds import build_world, stored_messages


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small embedded backup, made once; tests copy it before damaging it."""
    root = tmp_path_factory.mktemp("backup")
    build_world(Settings(data_dir=root / "source"), 3)
    create_backup(Settings(data_dir=root / "source"), root / "backup")
    return root / "backup"


def copied(backup: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(backup, tmp_path / "copy"))


def refused(settings: Settings, source: Path, reason: str, force: bool = False) -> None:
    with pytest.raises(BackupRefused, match=reason):
        restore_backup(settings, source, force=force)


def test_an_unfinished_backup_is_refused(backup: Path, tmp_path: Path) -> None:
    source = copied(backup, tmp_path)
    (source / MANIFEST).unlink()
    refused(Settings(data_dir=tmp_path / "target"), source, "not a finished backup")
    assert not (tmp_path / "target" / "metadata.db").exists()


def test_a_damaged_metadata_copy_is_refused(backup: Path, tmp_path: Path) -> None:
    source = copied(backup, tmp_path)
    with (source / "metadata.db").open("r+b") as db:
        db.seek(4096)
        db.write(b"\xff" * 16)
    refused(Settings(data_dir=tmp_path / "target"), source, "metadata.db does not match")
    assert not (tmp_path / "target" / "metadata.db").exists()


def test_a_damaged_blob_is_refused_before_any_metadata_is_written(
    backup: Path, tmp_path: Path
) -> None:
    source = copied(backup, tmp_path)
    blob = next(path for path in (source / "blobs").rglob("*") if path.is_file())
    blob.write_bytes(blob.read_bytes() + b"tampered")
    refused(Settings(data_dir=tmp_path / "target"), source, f"blob {blob.parent.name}")
    assert not (tmp_path / "target" / "metadata.db").exists()


def test_a_missing_blob_is_refused(backup: Path, tmp_path: Path) -> None:
    source = copied(backup, tmp_path)
    next(path for path in (source / "blobs").rglob("*") if path.is_file()).unlink()
    refused(Settings(data_dir=tmp_path / "target"), source, "2 blobs, the manifest counts 3")


def test_a_backup_of_a_newer_schema_is_refused(backup: Path, tmp_path: Path) -> None:
    source = copied(backup, tmp_path)
    manifest = json.loads((source / MANIFEST).read_text())
    manifest["schema_revision"] = "9999"
    (source / MANIFEST).write_text(json.dumps(manifest))
    refused(Settings(data_dir=tmp_path / "target"), source, "9999 is unknown to this MaiRust")


def test_a_target_with_data_is_refused_unless_forced(backup: Path, tmp_path: Path) -> None:
    target = Settings(data_dir=tmp_path / "target")
    build_world(target, 1)
    refused(target, backup, "holds data")
    assert len(stored_messages(target)) == 1  # untouched
    restore_backup(target, backup, force=True)
    assert len(stored_messages(target)) == 3  # the backup's, not a mixture


def test_a_data_dir_without_metadata_is_not_backed_up(tmp_path: Path) -> None:
    with pytest.raises(BackupRefused, match="no SQLite database"):
        create_backup(Settings(data_dir=tmp_path / "none"), tmp_path / "b")
    assert not (tmp_path / "none" / "metadata.db").exists()


def test_a_backup_of_another_metadata_backend_is_refused(backup: Path, tmp_path: Path) -> None:
    target = Settings(
        data_dir=tmp_path / "target",
        storage={"metadata": "postgresql://nobody@127.0.0.1:1/none"},
        secrets={"key": "A" * 43 + "="},
    )
    refused(target, backup, "a sqlite backup cannot be restored into postgresql")
