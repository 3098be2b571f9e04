"""Our outbound DKIM signatures checked by an independent verifier: OpenDKIM (``opendkim -t``
in verify mode), its resolver pointed at a loopback ``ZoneServer`` publishing our public keys
(made here, then made by ``DkimKeyService`` and taken from the DNS helper's records). Both
key types, signed at once; a changed body or signed header fails. Missing binaries fail
the test (Debian package opendkim)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mairust.config import Settings
from mairust.model.dkim_keys import DkimAlgorithm
from mairust.model.principal import Principal
from mairust.outbound.dkim_signer import (
    DkimSigner,
    SigningKey,
    dns_record_text,
    private_key_pem,
    public_key_text,
)
from mairust.secrets.master_key import load_keyring
from mairust.services.application import Application
from mairust.storage.factory import migrate, open_stores
from tests.support.dns_server import ZoneServer

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: signed by MaiRust\r\n"
    b"Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <opendkim-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Hello from  the signer.\r\n"
    b"Second line, trailing blanks   \r\n"
)


def _opendkim_verify(tmp_path: Path, port: int, message: bytes) -> str:
    tool = shutil.which("opendkim") or shutil.which("opendkim", path="/usr/sbin:/usr/bin")
    assert tool, "opendkim is not installed (Debian package opendkim)"
    conf = tmp_path / "verify.conf"
    conf.write_text(f"Mode v\nSyslog no\nNameservers 127.0.0.1@{port}\n")
    path = tmp_path / "to-verify.eml"
    path.write_bytes(message)
    done = subprocess.run(
        [tool, "-x", str(conf), "-t", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def _key(selector: str, algorithm: DkimAlgorithm) -> SigningKey:
    return SigningKey("example.org", selector, algorithm, private_key_pem(algorithm))


def test_rsa_and_ed25519_signatures_verify_with_opendkim(tmp_path: Path) -> None:
    """``opendkim -t`` reports the topmost signature only: the message is signed with both
    keys twice, once with each on top, so OpenDKIM checks each kind in a two-signature
    message."""
    rsa_key, ed_key = _key("mr1", DkimAlgorithm.RSA2048), _key("mr2", DkimAlgorithm.ED25519)
    zone = {
        f"{key.selector}._domainkey.example.org": {
            "TXT": [dns_record_text(key.algorithm, public_key_text(key.algorithm, key.private_pem))]
        }
        for key in (rsa_key, ed_key)
    }
    rsa_first = DkimSigner([rsa_key, ed_key]).signed(MESSAGE)
    ed_first = DkimSigner([ed_key, rsa_key]).signed(MESSAGE)
    with ZoneServer(zone) as server:
        outputs = {
            name: _opendkim_verify(tmp_path, server.port, message)
            for name, message in {
                "rsa": rsa_first,
                "ed": ed_first,
                "rsa body": rsa_first.replace(b"Second", b"Sec0nd"),
                "ed body": ed_first.replace(b"Second", b"Sec0nd"),
                "rsa header": rsa_first.replace(b"by MaiRust", b"by someone else"),
                "ed header": ed_first.replace(b"by MaiRust", b"by someone else"),
            }.items()
        }
        assert server.queries_for("mr1._domainkey.example.org", "TXT")
        assert server.queries_for("mr2._domainkey.example.org", "TXT")
    assert "verification (s=mr1, d=example.org, 2048-bit key) succeeded" in outputs["rsa"]
    assert re.search(r"verification \(s=mr2, d=example\.org, .*\) succeeded", outputs["ed"])
    for name in ("rsa body", "ed body", "rsa header", "ed header"):
        selector = "mr1" if name.startswith("rsa") else "mr2"
        assert re.search(rf"verification \(s={selector}.*\) failed", outputs[name]), outputs
        assert "succeeded" not in outputs[name], outputs


def test_keys_made_by_the_service_verify_through_the_records_it_publishes(tmp_path: Path) -> None:
    """keygen (both kinds) -> the DNS helper's records served by the zone -> the service's
    signer signs -> OpenDKIM verifies each kind (each on top once, as above)."""
    settings = Settings(data_dir=tmp_path / "data")
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        app = Application.over(
            stores, (b"dkim-e2e-token-digest-key-32byte",), keyring=load_keyring(settings)
        )
        tenant = stores.metadata.create_tenant("acme").id
        stores.metadata.add_domain("example.org", tenant)
        admin = Principal.platform("test", "test")
        rsa_key = app.dkim.keygen(admin, "example.org", DkimAlgorithm.RSA2048)
        ed_key = app.dkim.keygen(admin, "example.org", DkimAlgorithm.ED25519)
        published = [r for r in app.dns.records(admin, "example.org").records]
        signer = app.dkim.signer_for("example.org")
    finally:
        stores.close()
    assert signer is not None
    zone: dict[str, dict[str, Any]] = {}
    for record in published:
        if record.purpose == "dkim":
            zone.setdefault(record.name, {"TXT": []})["TXT"].append(record.value)
    assert set(zone) == {rsa_key.dns_name, ed_key.dns_name}
    fields = signer.sign(MESSAGE).split(b"\r\nDKIM-Signature:")
    assert len(fields) == 2
    first, second = fields[0] + b"\r\n", b"DKIM-Signature:" + fields[1]
    with ZoneServer(zone) as server:
        outputs = [
            _opendkim_verify(tmp_path, server.port, top + bottom + MESSAGE)
            for top, bottom in ((first, second), (second, first))
        ]
    selectors = {rsa_key.selector, ed_key.selector}
    for output in outputs:
        found = re.search(r"verification \(s=([^,]+), d=example\.org, .*\) succeeded", output)
        assert found is not None, output
        selectors.discard(found.group(1))
    assert selectors == set(), outputs  # both kinds were checked by OpenDKIM
