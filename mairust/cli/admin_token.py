"""The admin API token: from config/MAIRUST_ADMIN_TOKEN, else generated once per data dir."""

from __future__ import annotations

import secrets

from mairust.config import Settings
from mairust.secrets.private_file import read_or_create_private_file

_TOKEN_FILE = "admin_token"


def ensure_admin_token(settings: Settings) -> str:
    """Return the configured token, or the one stored in the data dir (created 0600)."""
    if settings.api.admin_token is not None:
        return settings.api.admin_token.get_secret_value()
    content = read_or_create_private_file(
        settings.data_dir / _TOKEN_FILE, lambda: (secrets.token_urlsafe(32) + "\n").encode()
    )
    return content.decode().strip()
