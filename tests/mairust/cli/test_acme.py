"""``mairust acme status|renew`` against a real Pebble: refused when ACME is off; the
stand-in reported due; an order written for the listeners; not due after, unless forced."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.smtp.acme_renewal import ensure_stand_in
from tests.support.pebble import acme_world, free_port

runner = CliRunner()
ADDRESS = "127.0.0.113"
NAME = "mail.cli.test"


def _run(data: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(
        app, [*args, "--data-dir", str(data)], env={"COLUMNS": "200", **(env or {})}
    )
    assert result.exit_code == code, result.output
    return result.output


def test_status_and_renew_refuse_when_acme_is_off(tmp_path: Path) -> None:
    for command in ("status", "renew"):
        output = _run(tmp_path, "acme", command, code=1)
        assert "ACME is not enabled" in output


def test_status_then_renew_against_pebble(tmp_path: Path) -> None:
    http_port = free_port(ADDRESS)
    cert_file, key_file = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    ensure_stand_in(cert_file, key_file, NAME)
    with acme_world(tmp_path / "pebble", {NAME: ADDRESS}, http_port) as pebble:
        env = {
            "MAIRUST_SMTP__TLS_CERT_FILE": str(cert_file),
            "MAIRUST_SMTP__TLS_KEY_FILE": str(key_file),
            "MAIRUST_ACME__ENABLED": "true",
            "MAIRUST_ACME__DIRECTORY_URL": pebble.directory_url,
            "MAIRUST_ACME__CA_FILE": str(pebble.ca_file),
            "MAIRUST_ACME__DOMAINS": f'["{NAME}"]',
            "MAIRUST_ACME__HTTP_ADDRESS": ADDRESS,
            "MAIRUST_ACME__HTTP_PORT": str(http_port),
        }
        before = _run(tmp_path, "acme", "status", env=env)
        assert "renewal     due: the certificate is self-signed (a stand-in)" in before
        renewed = _run(tmp_path, "acme", "renew", env=env)
        assert f"renewed: {NAME} from CN=Pebble Intermediate CA" in renewed
        after = _run(tmp_path, "acme", "status", env=env)
        assert f"names       {NAME}" in after and "renewal     not due" in after
        assert "not due: the certificate was kept" in _run(tmp_path, "acme", "renew", env=env)
