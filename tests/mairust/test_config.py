from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from mairust.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "mairust.example.toml"


def test_defaults_are_embedded_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.data_dir == tmp_path / ".mairust"
    assert settings.storage.metadata == f"sqlite:///{tmp_path}/.mairust/metadata.db"
    assert settings.storage.blobs == f"file://{tmp_path}/.mairust/blobs"
    assert settings.storage.search == f"fts5://{tmp_path}/.mairust/search.db"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.submission_port) == (
        "127.0.0.1",
        2525,
        2587,
    )
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8000)


def test_precedence_cli_over_env_over_file(tmp_path, monkeypatch):
    config = tmp_path / "mairust.toml"
    config.write_text("[smtp]\nport = 1111\nmax_recipients = 7\n[api]\nport = 3333\n")
    monkeypatch.setenv("MAIRUST_SMTP__PORT", "2222")
    monkeypatch.setenv("MAIRUST_ADMIN_TOKEN", "from-env")
    settings = load_settings(config, api={"port": 4444}, smtp={"port": None})
    assert settings.smtp.port == 2222  # env beats file; an absent flag (None) hides nothing
    assert settings.smtp.max_recipients == 7  # file beats default
    assert settings.api.port == 4444  # flag beats file
    assert settings.api.admin_token is not None
    assert settings.api.admin_token.get_secret_value() == "from-env"


def test_unknown_and_invalid_keys_are_refused(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[smtp]\nprot = 25\n")
    with pytest.raises(ValidationError):
        load_settings(config)
    config.write_text("[smtp]\nport = 70000\n")
    with pytest.raises(ValidationError):
        load_settings(config)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_example_config_documents_every_key_and_loads():
    example = tomllib.loads(EXAMPLE.read_text())
    text = EXAMPLE.read_text()

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        found = []
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found += keys(annotation, f"{prefix}{name}.")
            else:
                found.append(f"{prefix}{name}")
        return found

    for key in keys(Settings):
        section, _, name = key.rpartition(".")
        assert f"{name} =" in text, f"{key} is not documented in {EXAMPLE.name}"
        if section:
            assert f"[{section}]" in text
    assert load_settings(EXAMPLE).smtp.max_recipients == example["smtp"]["max_recipients"]


def test_settings_survive_a_pickle_round_trip(tmp_path):
    import pickle

    settings = load_settings(None, data_dir=tmp_path, api={"admin_token": "s3cret"})
    copy = pickle.loads(pickle.dumps(settings))
    assert isinstance(copy, Settings)
    assert copy == settings


def test_webhook_settings_check_networks_and_lease(tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.webhooks.allow_networks == []  # public addresses only by default
    allowed = load_settings(None, data_dir=tmp_path, webhooks={"allow_networks": ["127.0.0.1"]})
    assert allowed.webhooks.allow_networks == ["127.0.0.1"]
    with pytest.raises(ValueError, match="not-a-net"):
        load_settings(None, data_dir=tmp_path, webhooks={"allow_networks": ["not-a-net"]})
    with pytest.raises(ValueError, match="lease_seconds must exceed"):
        load_settings(None, data_dir=tmp_path, webhooks={"lease_seconds": 10, "total_timeout": 30})


def test_plugin_trusted_keys_are_checked_when_loaded():
    from mairust.config import PluginsSettings

    key = base64.b64encode(bytes(32)).decode()
    assert PluginsSettings(trusted_keys={"acme-2026": key}).trusted_keys == {"acme-2026": key}
    with pytest.raises(ValueError, match="is not a key id"):
        PluginsSettings(trusted_keys={"bad id": key})
    with pytest.raises(ValueError, match=r"trusted_keys\.acme: an ed25519 public key is 32 bytes"):
        PluginsSettings(trusted_keys={"acme": base64.b64encode(bytes(31)).decode()})
    with pytest.raises(ValueError, match="base64"):
        PluginsSettings(trusted_keys={"acme": "not base64!"})
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        PluginsSettings(allow_networks=["nowhere"])


def test_tls_certificate_and_key_go_together(tmp_path):
    with pytest.raises(ValidationError, match="go together"):
        Settings(data_dir=tmp_path, smtp={"tls_cert_file": tmp_path / "cert.pem"})
    with pytest.raises(ValidationError, match="go together"):
        Settings(data_dir=tmp_path, smtp={"tls_key_file": tmp_path / "key.pem"})
    both = Settings(
        data_dir=tmp_path,
        smtp={"tls_cert_file": tmp_path / "c.pem", "tls_key_file": tmp_path / "k.pem"},
    )
    assert both.smtp.tls_key_file == tmp_path / "k.pem"
    relative = Settings(
        data_dir=tmp_path, smtp={"tls_cert_file": "c.pem", "tls_key_file": "~/k.pem"}
    )
    assert relative.smtp.tls_cert_file == Path.cwd() / "c.pem"
    assert relative.smtp.tls_key_file == Path.home() / "k.pem"
    assert Settings(data_dir=tmp_path).smtp.submissions_port == 0


def test_the_unsubscribe_base_url_is_an_http_url_without_query(tmp_path):
    assert Settings(data_dir=tmp_path).unsubscribe.base_url == ""
    made = Settings(data_dir=tmp_path, unsubscribe={"base_url": "https://mail.example.com/x"})
    assert made.unsubscribe.base_url == "https://mail.example.com/x"
    for bad in (
        "mail.example.com",
        "ftp://mail.example.com",
        "https://m.example?u=1",
        "https:// x",
    ):
        with pytest.raises(ValidationError, match=r"unsubscribe\.base_url"):
            Settings(data_dir=tmp_path, unsubscribe={"base_url": bad})


def test_acme_needs_names_and_the_listeners_files_and_keeps_its_account_key_in_data_dir(
    tmp_path,
):
    off = Settings(data_dir=tmp_path)
    assert not off.acme.enabled
    assert off.acme.account_key_file == tmp_path.resolve() / "acme" / "account-key.pem"
    tls = {"tls_cert_file": tmp_path / "c.pem", "tls_key_file": tmp_path / "k.pem"}
    with pytest.raises(ValidationError, match=r"\[acme\] enabled needs domains"):
        Settings(data_dir=tmp_path, smtp=tls, acme={"enabled": True})
    with pytest.raises(ValidationError, match=r"needs smtp\.tls_cert_file"):
        Settings(data_dir=tmp_path, acme={"enabled": True, "domains": ["mx.example.com"]})
    with pytest.raises(ValidationError, match=r"acme\.directory_url"):
        Settings(data_dir=tmp_path, acme={"directory_url": "acme.example.com/dir"})
    with pytest.raises(ValidationError, match=r"acme\.email"):
        Settings(data_dir=tmp_path, acme={"email": "nobody"})
    on = Settings(
        data_dir=tmp_path,
        smtp=tls,
        acme={"enabled": True, "domains": ["mx.example.com"], "account_key_file": "a.pem"},
    )
    assert on.acme.account_key_file == Path.cwd() / "a.pem"
    assert (on.acme.http_address, on.acme.http_port, on.acme.renew_before_days) == (
        "127.0.0.1",
        80,
        30.0,
    )
