from __future__ import annotations

import stat

from mairust.cli.admin_token import ensure_admin_token
from mairust.config import Settings


def test_configured_token_wins(tmp_path):
    settings = Settings(data_dir=tmp_path, api={"admin_token": "configured"})
    assert ensure_admin_token(settings) == "configured"
    assert not (tmp_path / "admin_token").exists()


def test_generated_once_and_kept_private(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    token = ensure_admin_token(settings)
    assert len(token) >= 32
    path = tmp_path / "data" / "admin_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_admin_token(settings) == token
