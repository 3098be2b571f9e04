"""Where the master key comes from: the configuration, or (embedded) the data dir.

``secrets.key`` (or ``MAIRUST_SECRETS__KEY``) is base64 of 32 bytes; ``secrets.previous_keys``
are the keys it replaced. With no key configured, an embedded platform generates one
once, into ``<data_dir>/secrets_key`` (0600), as it does for the admin token. A shared
metadata store (PostgreSQL) refuses to start that way: each node would generate a key of
its own and none could read the others' secrets.
"""

from __future__ import annotations

import base64
import os
from urllib.parse import urlsplit

from mairust.config import SECRETS_KEY_BYTES, Settings, decode_secrets_key
from mairust.errors import MairustError
from mairust.secrets.keyring import Keyring
from mairust.secrets.private_file import read_or_create_private_file

KEY_FILE = "secrets_key"


class SecretKeyUnavailable(MairustError):
    """No usable master key: none configured where one must be, or a key file that is
    not one. Nothing can be sealed or opened until the configuration is fixed."""


def load_keyring(settings: Settings) -> Keyring:
    """The keyring the configuration names (generating the embedded key file if need be)."""
    previous = [
        decode_secrets_key(key.get_secret_value()) for key in settings.secrets.previous_keys
    ]
    if settings.secrets.key is not None:
        current = decode_secrets_key(settings.secrets.key.get_secret_value())
    else:
        current = _embedded_key(settings)
    return Keyring.from_bytes(current, previous)


def _embedded_key(settings: Settings) -> bytes:
    if urlsplit(settings.storage.metadata).scheme.lower() != "sqlite":
        raise SecretKeyUnavailable(
            "secrets.key (MAIRUST_SECRETS__KEY) must be set when the metadata store is "
            "shared: every node needs the same key (make one with: openssl rand -base64 32)"
        )
    path = settings.data_dir / KEY_FILE
    content = read_or_create_private_file(path, new_key_text)
    try:
        return decode_secrets_key(content.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SecretKeyUnavailable(f"{path} holds no secrets key: {error}") from None


def new_key_text() -> bytes:
    """A fresh master key as the config and the key file spell it (base64, a newline)."""
    return base64.b64encode(os.urandom(SECRETS_KEY_BYTES)) + b"\n"
