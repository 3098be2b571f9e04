"""The outbound benchmark's ``mairust up`` config: what MaiRust reads from it (the loopback
resolver, the sinks' port, connection reuse on or off, plain AUTH on loopback)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from load.mairust_outbound_target import has_command, outbound_config
from mairust.config import OutboundSettings, load_settings


@pytest.mark.parametrize("reuse", [None, 1])
def test_the_config_points_dns_and_delivery_at_loopback(tmp_path: Path, reuse: int | None) -> None:
    path = tmp_path / "outbound.toml"
    path.write_text(outbound_config(dns_port=5353, sink_port=2525, messages_per_connection=reuse))
    settings = load_settings(path, data_dir=tmp_path)
    assert (settings.dns.nameservers, settings.dns.port) == (["127.0.0.1"], 5353)
    assert settings.outbound.port == 2525
    default = OutboundSettings().messages_per_connection
    assert settings.outbound.messages_per_connection == (default if reuse is None else 1)
    assert default > 1  # "reuse on" is the default
    assert settings.smtp.allow_plaintext_auth
    assert settings.admission.messages_per_minute_per_tenant == 0  # no abuse limit measured


def test_settings_given_on_the_command_line_replace_or_add_to_the_runs(tmp_path: Path) -> None:
    path = tmp_path / "outbound.toml"
    overrides = ["outbound.port=2626", 'outbound.tls="off"', "outbound.workers = 2"]
    path.write_text(outbound_config(5353, 2525, 1, overrides))
    settings = load_settings(path, data_dir=tmp_path)
    assert (settings.outbound.port, settings.outbound.tls, settings.outbound.workers) == (
        2626,
        "off",
        2,
    )
    assert settings.outbound.messages_per_connection == 1
    for bad in ("workers=2", "outbound.workers=", "=2"):
        with pytest.raises(ValueError, match=r"section\.key=value"):
            outbound_config(5353, 2525, None, [bad])


def test_a_command_is_there_when_its_help_succeeds() -> None:
    mairust = str(Path(sys.executable).parent / "mairust")
    assert has_command(mairust, ["user", "add"])
    assert not has_command(mairust, ["no-such-command"])
