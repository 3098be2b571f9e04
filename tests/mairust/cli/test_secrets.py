"""``mairust secrets rotate-key`` and ``relay-password`` on an embedded data dir, as an
operator runs them."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.config import load_settings
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.keyring import Keyring
from mairust.secrets.master_key import KEY_FILE, load_keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.factory import migrate
from mairust.storage.sql_metadata import SqlMetadataStore

OLD, NEW = os.urandom(32), os.urandom(32)


def _config(path: Path, key: bytes, *previous: bytes) -> Path:
    keys = ", ".join(f'"{base64.b64encode(k).decode()}"' for k in previous)
    path.write_text(
        f'[secrets]\nkey = "{base64.b64encode(key).decode()}"\nprevious_keys = [{keys}]\n'
    )
    return path


def _seed(data_dir: Path, config: Path, count: int) -> list[str]:
    """``count`` secrets sealed under the key ``config`` names; their ids."""
    settings = load_settings(config, data_dir=data_dir)
    migrate(settings.storage)
    store = SqlMetadataStore(settings.storage.metadata)
    try:
        tenant = TenantScope(store.create_tenant("acme").id)
        vault = SecretVault(store, load_keyring(settings))
        return [
            vault.create(tenant, SecretPurpose.WEBHOOK_SIGNING, f"s{i}".encode()).id
            for i in range(count)
        ]
    finally:
        store.close()


def _reveal_all(data_dir: Path, key: bytes, ids: list[str]) -> list[bytes]:
    store = SqlMetadataStore(f"sqlite:///{data_dir / 'metadata.db'}")
    try:
        vault = SecretVault(store, Keyring.from_bytes(key))
        return [vault.reveal(PLATFORM, secret_id) for secret_id in ids]
    finally:
        store.close()


def test_rotate_key_reseals_under_the_new_key_with_progress(tmp_path: Path) -> None:
    ids = _seed(tmp_path, _config(tmp_path / "old.toml", OLD), 5)
    config = _config(tmp_path / "new.toml", NEW, OLD)
    args = ["secrets", "rotate-key", "--data-dir", str(tmp_path), "--config", str(config)]
    runner = CliRunner()

    result = runner.invoke(app, [*args, "--page-size", "2"])
    assert result.exit_code == 0, result.output
    new_id = Keyring.from_bytes(NEW).current.key_id
    assert f"re-sealing secrets under key {new_id}" in result.output
    assert "  2 examined: 2 re-sealed" in result.output  # progress after each page
    assert "  4 examined: 4 re-sealed" in result.output
    assert "done: 5 secrets examined, 5 re-sealed, 0 already under the current key" in (
        result.output
    )
    assert f"key {new_id} (current): 5 secrets" in result.output
    assert _reveal_all(tmp_path, NEW, ids) == [f"s{i}".encode() for i in range(5)]

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "done: 5 secrets examined, 0 re-sealed, 5 already under the current key" in (
        again.output
    )


def test_a_secret_no_configured_key_opens_is_a_clean_error(tmp_path: Path) -> None:
    ids = _seed(tmp_path, _config(tmp_path / "old.toml", OLD), 2)
    config = _config(tmp_path / "new.toml", NEW)  # the old key forgotten
    args = ["secrets", "rotate-key", "--data-dir", str(tmp_path), "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    old_id = Keyring.from_bytes(OLD).current.key_id
    assert f"key {old_id} (unknown): 2 secrets" in result.output
    assert "2 secrets do not open under any configured key" in result.stderr
    assert all(secret_id in result.stderr for secret_id in ids)
    assert "Traceback" not in result.output
    assert _reveal_all(tmp_path, OLD, ids) == [b"s0", b"s1"]  # left as they were


def test_embedded_rotate_key_uses_the_data_dirs_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["secrets", "rotate-key", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "done: 0 secrets examined" in result.output
    assert (tmp_path / KEY_FILE).is_file()


def test_relay_password_is_sealed_from_stdin_and_only_its_id_printed(tmp_path: Path) -> None:
    config = _config(tmp_path / "mairust.toml", NEW)
    args = ["secrets", "relay-password", "--data-dir", str(tmp_path), "--config", str(config)]
    result = CliRunner().invoke(app, args, input="pa55 word\n")
    assert result.exit_code == 0, result.output
    assert "pa55" not in result.output
    secret_id = result.output.strip()
    assert _reveal_all(tmp_path, NEW, [secret_id]) == [b"pa55 word"]
    empty = CliRunner().invoke(app, args, input="")
    assert empty.exit_code != 0 and "empty" in empty.output
