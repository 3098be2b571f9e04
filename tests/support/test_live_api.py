"""The live API pass's config file says what the tests asked for, as `mairust up` reads it."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mairust.config import load_settings
from tests.mairust.api.conftest import SECOND_SETTINGS
from tests.support.live_api import BASE, config_text, merged


def test_the_sections_reach_the_settings_the_server_loads(tmp_path: Path) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(config_text(merged(BASE, dict(SECOND_SETTINGS.kwargs))))

    settings = load_settings(config, data_dir=tmp_path)

    assert settings.queue.poll_interval == 3600
    assert settings.webhooks.poll_interval == 3600
    assert settings.api.rate_limit_per_second == 100_000
    # A section in both keeps the keys of each.
    assert settings.api.max_send_size == 1000
    assert settings.api.login_attempts_per_minute == 100_000
    assert settings.dns.nameservers == ["127.0.0.1"]
    assert settings.webhooks.allow_http is True
    assert settings.smtp.hostname == "mx.platform.test"


def test_a_string_with_quotes_and_backslashes_survives(tmp_path: Path) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(config_text({"smtp": {"hostname": 'a"b\\c'}}))
    assert load_settings(config, data_dir=tmp_path).smtp.hostname == 'a"b\\c'


def _public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def test_a_mapping_becomes_an_inline_table(tmp_path: Path) -> None:
    config = tmp_path / "mairust.toml"
    keys = {"bola-matrix": _public_key(), "other": _public_key()}
    config.write_text(config_text({"plugins": {"trusted_keys": keys, "catalog": "/tmp/c"}}))
    assert load_settings(config, data_dir=tmp_path).plugins.trusted_keys == keys
