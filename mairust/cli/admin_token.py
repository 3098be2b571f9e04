"""The admin API token: from config/MAIRUST_ADMIN_TOKEN, else generated once per data dir."""

from __future__ import annotations

import os
import secrets

from mairust.config import Settings

_TOKEN_FILE = "admin_token"


def ensure_admin_token(settings: Settings) -> str:
    """Return the configured token, or the one stored in the data dir (created 0600)."""
    if settings.api.admin_token is not None:
        return settings.api.admin_token.get_secret_value()
    path = settings.data_dir / _TOKEN_FILE
    if path.is_file():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token
