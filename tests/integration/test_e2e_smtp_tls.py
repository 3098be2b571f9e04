"""Scenario: `mairust up` with no certificate configured makes a self-signed one in its
data dir (key 0600) and offers STARTTLS with it; swaks submits over STARTTLS with AUTH,
which is not offered in the clear when allow_plaintext_auth is off."""

from __future__ import annotations

import smtplib
import ssl
import stat
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

PASSWORD = "correct horse battery"


def test_swaks_submits_over_starttls_with_the_self_signed_certificate(new_server, tmp_path):
    config = tmp_path / "mairust.toml"
    config.write_text("[smtp]\nallow_plaintext_auth = false\n")
    server = new_server(config=config)
    added = server.cli(
        "user", "add", "alice@example.test", "--create-domain", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stdout + added.stderr
    server.start()
    cert_file = server.data_dir / "tls" / "smtp-cert.pem"
    key_file = server.data_dir / "tls" / "smtp-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    output = "".join(server.output)
    assert "generated a self-signed TLS certificate" in output
    assert f"TLS         certificate {cert_file}" in output

    swaks = subprocess.run(
        [
            "swaks",
            "--server", "127.0.0.1",
            "--port", str(server.submission_port),
            "--tls",
            "--auth", "PLAIN",
            "--auth-user", "alice@example.test",
            "--auth-password", PASSWORD,
            "--from", "alice@example.test",
            "--to", "alice@example.test",
            "--ehlo", "client.test",
            "--timeout", "30",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )  # fmt: skip
    assert swaks.returncode == 0, swaks.stdout + swaks.stderr
    assert "<~  235 2.7.0 Authentication successful" in swaks.stdout
    assert "<~  250 2.0.0 Ok: queued as " in swaks.stdout

    context = ssl.create_default_context(cafile=str(cert_file))
    context.check_hostname = False  # the certificate names this machine, we dial 127.0.0.1
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
        client.ehlo("client.test")
        assert "auth" not in client.esmtp_features
        client.starttls(context=context)  # verifies against the generated certificate
        served = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    on_disk = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert served == on_disk.public_bytes(Encoding.DER)
    assert server.stop() == 0
