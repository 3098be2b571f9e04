"""Where the master key comes from: config, environment, or the embedded key file."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from mairust.config import Settings, load_settings
from mairust.secrets.keyring import MasterKey
from mairust.secrets.master_key import KEY_FILE, SecretKeyUnavailable, load_keyring


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_the_configured_key_and_previous_keys(tmp_path: Path) -> None:
    current, old = os.urandom(32), os.urandom(32)
    settings = Settings(
        data_dir=tmp_path, secrets={"key": _b64(current), "previous_keys": [_b64(old)]}
    )
    keyring = load_keyring(settings)
    assert keyring.current == MasterKey.from_bytes(current)
    assert keyring.previous == (MasterKey.from_bytes(old),)
    assert not (tmp_path / KEY_FILE).exists()


def test_the_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, old = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("MAIRUST_SECRETS__KEY", _b64(key))
    monkeypatch.setenv("MAIRUST_SECRETS__PREVIOUS_KEYS", f'["{_b64(old)}"]')
    keyring = load_keyring(load_settings(None, data_dir=tmp_path))
    assert keyring.current.key_id == MasterKey.from_bytes(key).key_id
    assert keyring.key_ids[1:] == (MasterKey.from_bytes(old).key_id,)


# Fixed values, not random ones: parallel test workers must collect the same cases.
@pytest.mark.parametrize(
    "bad",
    ["not base64!", _b64(b"\x01" * 16), _b64(b"\x02" * 33), ""],
    ids=["not base64", "16 bytes", "33 bytes", "empty"],
)
def test_a_key_that_is_not_32_bytes_of_base64_is_a_config_error(bad: str) -> None:
    with pytest.raises(ValidationError, match="secrets key"):
        Settings(secrets={"key": bad})
    with pytest.raises(ValidationError, match="secrets key"):
        Settings(secrets={"previous_keys": [bad]})


def test_embedded_key_is_generated_once_private_and_stable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_keyring(Settings(data_dir=data_dir))
    path = data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text().strip())) == 32
    # A restart (new settings, new keyring) reads the same key back.
    assert load_keyring(Settings(data_dir=data_dir)).current == first.current
    # Another data dir, another key.
    assert load_keyring(Settings(data_dir=tmp_path / "other")).current != first.current


def test_a_shared_metadata_store_needs_a_configured_key(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, storage={"metadata": "postgresql://u:p@127.0.0.1:5432/mairust"}
    )
    with pytest.raises(SecretKeyUnavailable, match="MAIRUST_SECRETS__KEY"):
        load_keyring(settings)
    assert not (tmp_path / KEY_FILE).exists()
    settings.secrets.key = Settings(secrets={"key": _b64(os.urandom(32))}).secrets.key
    assert load_keyring(settings).current is not None


def test_a_damaged_key_file_is_a_domain_error(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("not a key\n")
    (tmp_path / KEY_FILE).chmod(0o600)
    with pytest.raises(SecretKeyUnavailable, match=KEY_FILE):
        load_keyring(Settings(data_dir=tmp_path))
