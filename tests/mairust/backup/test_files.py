"""The config file in a backup: the master key taken out unless asked for; the data dir's
own files without the stores' files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mairust.backup.files import config_without_key, data_files
from mairust.backup.manifest import BackupRefused

CONFIG = """\
data_dir = "/var/lib/mairust"

[secrets]
key = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
previous_keys = ["b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkMTI="]

[storage]
metadata = "postgresql://mairust@db/mairust"
"""


def test_the_master_keys_are_commented_out_and_the_rest_kept() -> None:
    redacted = config_without_key(CONFIG)
    parsed = tomllib.loads(redacted)
    assert parsed["secrets"] == {}
    assert parsed["storage"]["metadata"] == "postgresql://mairust@db/mairust"
    assert "c2VjcmV0" not in redacted and "b2xk" not in redacted


def test_a_config_without_keys_is_kept_as_it_is() -> None:
    text = '[storage]\nblobs = "s3://bucket"\n'
    assert config_without_key(text) == text


def test_a_key_it_cannot_take_out_refuses_the_backup() -> None:
    with pytest.raises(BackupRefused, match="--include-master-key"):
        config_without_key('secrets.key = "c2VjcmV0"\n')


def test_data_files_leave_out_the_stores_their_side_files_and_the_key(tmp_path: Path) -> None:
    stores = ("metadata.db", "metadata.db-wal", "metadata.db.writers", "search.db")
    for name in (*stores, "secrets_key", "admin_token"):
        (tmp_path / name).write_text("x")
    (tmp_path / "blobs" / "ab").mkdir(parents=True)
    (tmp_path / "blobs" / "ab" / "cd").write_text("x")
    (tmp_path / "plugins" / "spam").mkdir(parents=True)
    (tmp_path / "plugins" / "spam" / "plugin.toml").write_text("x")
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "manifest.json").write_text("x")
    found = list(data_files(tmp_path, exclude=tmp_path / "backup"))
    assert found == [Path("admin_token"), Path("plugins/spam/plugin.toml")]
