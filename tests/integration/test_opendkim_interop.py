"""DKIM interop with an independent implementation: Debian's OpenDKIM (opendkim 2.11).

- opendkim signs (``opendkim -t`` in signing mode, keys from ``opendkim-genkey`` or an
  ed25519 PEM), and ``verify_dkim`` checks the result through the real ``CachingResolver``
  against a loopback ``ZoneServer`` serving the public key; a tampered copy fails.
- dkimpy signs and opendkim verifies (``opendkim -t``), its resolver (libunbound) pointed at
  the same ``ZoneServer`` with ``Nameservers 127.0.0.1@<port>``.

Needs the Debian packages opendkim and opendkim-tools; missing binaries fail the tests.
Each call runs a short-lived process; nothing stays up between tests.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import dkim  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from mairust.auth.dkim import verify_dkim
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import DkimWord
from tests.support.dns_server import ZoneServer

MESSAGE = (
    "From: Alice <alice@example.org>\n"
    "To: Bob <bob@example.net>\n"
    "Subject: interop check\n"
    "Date: Mon, 01 Jan 2024 00:00:00 +0000\n"
    "Message-ID: <interop-1@example.org>\n"
    "\n"
    "Hello from  the other implementation.\n"
    "Second line, trailing blanks   \n"
    "\n"
)
DKIMPY_TEST_KEY = Path(__file__).parents[1] / "data" / "dkim"


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    assert path, f"{name} is not installed (Debian packages opendkim, opendkim-tools)"
    return path


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _crlf(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _genkey(tmp_path: Path, selector: str) -> tuple[Path, str]:
    """opendkim-genkey's private key file and its TXT record text."""
    _run(
        [
            _tool("opendkim-genkey"),
            "-b",
            "2048",
            "-d",
            "example.org",
            "-s",
            selector,
            "-D",
            str(tmp_path),
        ]
    )
    zone_text = (tmp_path / f"{selector}.txt").read_text()
    return tmp_path / f"{selector}.private", "".join(re.findall(r'"([^"]*)"', zone_text))


def _ed25519_key(tmp_path: Path) -> tuple[Path, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "ed.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return path, f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"


def _opendkim_sign(tmp_path: Path, key: Path, selector: str, algorithm: str, canon: str) -> bytes:
    """The message signed by ``opendkim -t`` in signing mode, CRLF line endings."""
    conf = tmp_path / f"sign-{selector}.conf"
    conf.write_text(
        "Mode s\nSyslog no\nRequireSafeKeys false\nDomain example.org\n"
        f"Selector {selector}\nKeyFile {key}\nSignatureAlgorithm {algorithm}\n"
        f"Canonicalization {canon}\n"
    )
    source = tmp_path / "message.eml"
    source.write_text(MESSAGE)
    out = _run([_tool("opendkim"), "-x", str(conf), "-t", str(source)])
    # Output: "opendkim: <file>:" then the DKIM-Signature field it would add.
    signature = out.split("\n", 1)[1]
    assert signature.startswith("DKIM-Signature:"), out
    return _crlf(signature.rstrip("\n") + "\n" + MESSAGE)


def _opendkim_verify(tmp_path: Path, zone: ZoneServer, message: bytes) -> str:
    conf = tmp_path / "verify.conf"
    conf.write_text(f"Mode v\nSyslog no\nNameservers 127.0.0.1@{zone.port}\n")
    path = tmp_path / "to-verify.eml"
    path.write_bytes(message)
    return _run([_tool("opendkim"), "-x", str(conf), "-t", str(path)])


def _resolver(zone: ZoneServer) -> CachingResolver:
    return CachingResolver(["127.0.0.1"], port=zone.port, timeout=2.0)


# -- opendkim signs, we verify -------------------------------------------------------------


@pytest.mark.parametrize("canon", ["relaxed/simple", "simple/simple", "relaxed/relaxed"])
def test_opendkim_rsa_signature_verifies_through_dns(tmp_path, canon) -> None:
    private, txt = _genkey(tmp_path, "odk")
    signed = _opendkim_sign(tmp_path, private, "odk", "rsa-sha256", canon)
    with ZoneServer({"odk._domainkey.example.org": {"TXT": [txt]}}) as zone:
        (result,) = verify_dkim(_resolver(zone), signed)
        assert zone.queries_for("odk._domainkey.example.org", "TXT")
        (tampered,) = verify_dkim(_resolver(zone), signed.replace(b"other", b"0ther"))
    assert (result.result, result.domain, result.selector) == (DkimWord.PASS, "example.org", "odk")
    assert result.algorithm == "rsa-sha256", result
    assert (tampered.result, tampered.reason) == (DkimWord.FAIL, "body hash did not verify")


def test_opendkim_ed25519_signature_verifies_through_dns(tmp_path) -> None:
    private, txt = _ed25519_key(tmp_path)
    signed = _opendkim_sign(tmp_path, private, "ed", "ed25519-sha256", "relaxed/relaxed")
    with ZoneServer({"ed._domainkey.example.org": {"TXT": [txt]}}) as zone:
        (result,) = verify_dkim(_resolver(zone), signed)
        forged = signed.replace(b"Subject: interop check", b"Subject: pay now")
        (tampered,) = verify_dkim(_resolver(zone), forged)
    assert (result.result, result.algorithm) == (DkimWord.PASS, "ed25519-sha256"), result
    assert (tampered.result, tampered.reason) == (DkimWord.FAIL, "signature did not verify")


def test_opendkim_testmsg_rsa_sha1_signature_is_refused(tmp_path) -> None:
    """opendkim-testmsg signs with rsa-sha1 (RFC 8301 forbids it): a real sha1 signature."""
    private, txt = _genkey(tmp_path, "old")
    done = subprocess.run(
        [_tool("opendkim-testmsg"), "-d", "example.org", "-k", str(private), "-s", "old", "-C"],
        input=MESSAGE.encode(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"a=rsa-sha1" in done.stdout
    with ZoneServer({"old._domainkey.example.org": {"TXT": [txt]}}) as zone:
        (result,) = verify_dkim(_resolver(zone), _crlf(done.stdout))
    assert result.result == DkimWord.PERMERROR and "rsa-sha1" in result.reason


# -- dkimpy signs, opendkim verifies -------------------------------------------------------


@pytest.mark.parametrize("canon", [(b"relaxed", b"relaxed"), (b"simple", b"simple")])
def test_dkimpy_rsa_signature_verifies_with_opendkim(tmp_path, canon) -> None:
    message = _crlf(MESSAGE)
    private = (DKIMPY_TEST_KEY / "test.private").read_bytes()
    signed = dkim.sign(message, b"test", b"example.org", private, canonicalize=canon) + message
    txt = (DKIMPY_TEST_KEY / "test.txt").read_text().strip()
    with ZoneServer({"test._domainkey.example.org": {"TXT": [txt]}}) as zone:
        good = _opendkim_verify(tmp_path, zone, signed)
        bad = _opendkim_verify(tmp_path, zone, signed.replace(b"Second", b"Sec0nd"))
        assert zone.queries_for("test._domainkey.example.org", "TXT")
        assert verify_dkim(_resolver(zone), signed)[0].result == DkimWord.PASS
    assert "verification (s=test, d=example.org, 1024-bit key) succeeded" in good, good
    assert "failed" in bad and "succeeded" not in bad, bad


def test_dkimpy_ed25519_signature_verifies_with_opendkim(tmp_path) -> None:
    message = _crlf(MESSAGE)
    key = (DKIMPY_TEST_KEY / "ed25519test.key").read_bytes()
    signed = (
        dkim.sign(message, b"ed", b"example.org", key, signature_algorithm=b"ed25519-sha256")
        + message
    )
    txt = (DKIMPY_TEST_KEY / "ed25519test.dns").read_text().strip()
    with ZoneServer({"ed._domainkey.example.org": {"TXT": [txt]}}) as zone:
        good = _opendkim_verify(tmp_path, zone, signed)
        bad = _opendkim_verify(tmp_path, zone, signed.replace(b"Hello", b"Jello"))
    assert re.search(r"verification \(s=ed, d=example\.org, .*\) succeeded", good), good
    assert "failed" in bad and "succeeded" not in bad, bad


def test_opendkim_reports_a_missing_key_as_a_dns_failure(tmp_path) -> None:
    """The reverse direction really asks our ZoneServer: no record there, no pass."""
    message = _crlf(MESSAGE)
    private = (DKIMPY_TEST_KEY / "test.private").read_bytes()
    signed = dkim.sign(message, b"test", b"example.org", private) + message
    with ZoneServer({}) as zone:
        out = _opendkim_verify(tmp_path, zone, signed)
        assert zone.queries_for("test._domainkey.example.org", "TXT")
    assert "succeeded" not in out, out
