"""Scenario: a catalog of signed plugin packages served by a real loopback HTTP server, used
by a running `mairust up` through the `mairust plugin` CLI. The test is the publisher: it
makes a key, packs and signs the bundled header-rules plugin at two versions, a plugin
whose only version needs a future MaiRust, and one tampered with after signing, and
builds the index. The operator trusts the key and points [plugins] catalog at the server:
search lists the catalog; install by name takes header-rules from it, which then really
rejects mail over SMTP; upgrade moves it to the newer version, which goes on deciding; the
incompatible plugin and the tampered one are refused with their messages and installed
nowhere. Embedded stores only: the catalog does not depend on the store backends."""

from __future__ import annotations

import json
import smtplib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mairust.plugin_packages.signing import file_sha256
from tests.support.plugin_packages import (
    Publisher,
    catalog_of,
    header_rules_at,
    served,
    signed_package,
)

RULES = {
    "rules": [
        {
            "header": "Subject",
            "pattern": r"\bpills\b",
            "action": "reject",
            "reply": "550 5.7.1 No pills here",
        }
    ]
}


def send(server: Any, subject: str) -> tuple[int, str]:
    data = f"From: x@remote.example\r\nSubject: {subject}\r\n\r\nhi\r\n".encode()
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("x@remote.example")
        smtp.rcpt("alice@example.test")
        code, reply = smtp.data(data)
    return code, reply.decode()


def outcome(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    return " ".join((result.stdout + result.stderr).replace("│", " ").split())


def publish(catalog: Path, tampered: dict[str, Any]) -> None:
    """The index of the signed packages in ``catalog``, plus the tampered package's entry
    (kept in bad/, which the index builder does not read: it would refuse it)."""
    catalog_of(catalog)
    index = catalog / "index.json"
    document = json.loads(index.read_text())
    document["packages"].append(tampered)
    index.write_text(json.dumps(document))


def tampered_package(base: Path, catalog: Path, publisher: Publisher) -> dict[str, Any]:
    """tampered-rules 1.0.0, signed and then changed; its index entry carries the changed
    file's SHA-256, so the signature is what catches it."""
    bad = catalog / "bad"
    package = signed_package(header_rules_at(base, "1.0.0", name="tampered-rules"), bad, publisher)
    [entry] = json.loads(catalog_of(bad).read_text())["packages"]
    package.write_bytes(package.read_bytes() + b"\0")
    return {**entry, "file": f"bad/{package.name}", "sha256": file_sha256(package)}


def test_install_and_upgrade_from_a_signed_catalog(
    new_server: Any, tmp_path: Path, wait_until: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the CLI's tables on one line each
    publisher = Publisher.make(tmp_path / "keys", "e2e-publisher")
    catalog = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    future = header_rules_at(tmp_path, "2.0.0", requires_mairust=">=99", name="future-rules")
    signed_package(future, catalog, publisher)
    tampered_entry = tampered_package(tmp_path, catalog, publisher)
    publish(catalog, tampered_entry)
    with served(catalog) as http_catalog:
        config = tmp_path / "mairust.toml"
        config.write_text(
            "[hooks]\nbindings_cache_seconds = 0.5\n\n"
            f'[plugins]\ntrusted_keys = {{ e2e-publisher = "{publisher.public}" }}\n'
            f'catalog = "{http_catalog.url}"\nallow_networks = ["127.0.0.1/32"]\n'
        )
        server = new_server(config=config)
        server.start()
        server.add_user("alice@example.test")

        found = outcome(server.cli("plugin", "search"))
        assert "header-rules 1.0.0 any yes e2e-publisher" in found
        assert "future-rules 2.0.0 >=99 no e2e-publisher" in found

        installed = outcome(server.cli("plugin", "install", "header-rules"))
        assert "installed header-rules 1.0.0 (enabled)" in installed
        outcome(server.cli("plugin", "configure", "header-rules", json.dumps(RULES)))
        wait_until(
            lambda: send(server, "cheap pills") == (550, "5.7.1 No pills here"),
            timeout=120,
            interval=1.0,
            what="header-rules from the catalog deployed and rejecting",
        )
        assert send(server, "quarterly numbers")[0] == 250

        # The publisher adds 1.1.0; the operator upgrades to it from the catalog.
        signed_package(header_rules_at(tmp_path, "1.1.0"), catalog, publisher)
        publish(catalog, tampered_entry)
        upgraded = outcome(server.cli("plugin", "upgrade", "header-rules"))
        assert "upgraded header-rules to 1.1.0" in upgraded
        assert "header-rules 1.1.0 yes" in outcome(server.cli("plugin", "list"))
        assert (server.data_dir / "plugins" / "header-rules" / "1.1.0" / "plugin.py").is_file()
        assert "nothing to upgrade" in outcome(server.cli("plugin", "upgrade", "header-rules"))
        wait_until(
            lambda: send(server, "more pills") == (550, "5.7.1 No pills here"),
            timeout=120,
            interval=1.0,
            what="header-rules 1.1.0 deciding",
        )

        incompatible = outcome(server.cli("plugin", "install", "future-rules"), code=1)
        assert (
            "error: future-rules 2.0.0 needs MaiRust >=99; this is MaiRust 0.1.0, which no "
            "version of future-rules in the catalog supports" in incompatible
        )
        tampered = outcome(server.cli("plugin", "install", "tampered-rules"), code=1)
        assert "tampered-rules-1.0.0.tar.gz does not match its signature" in tampered
        listed = outcome(server.cli("plugin", "list"))
        assert "future-rules" not in listed and "tampered-rules" not in listed
        # The installed packages were downloaded once each and stay cached; the tampered
        # one, refused, is not kept.
        assert http_catalog.requests.count("/header-rules-1.0.0.tar.gz") == 1
        cache = server.data_dir / "plugin-cache"
        assert (cache / "header-rules-1.1.0.tar.gz").is_file()
        assert http_catalog.requests.count("/bad/tampered-rules-1.0.0.tar.gz") == 1
        assert not (cache / "tampered-rules-1.0.0.tar.gz").exists()
