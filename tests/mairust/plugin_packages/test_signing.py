"""The detached ed25519 signature: a good one verifies; a changed package, a signature file
edited to match it, an unknown key, another key under a trusted id, a malformed file and a
missing one are each refused with their own reason; keygen writes a private key only its
owner reads and never overwrites one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mairust.errors import InvalidInput
from mairust.plugin_packages.signing import (
    SignatureRefused,
    TrustedKeys,
    file_sha256,
    generate_key_pair,
    signature_path,
)
from tests.support.plugin_packages import HEADER_RULES, Publisher, signed_package


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return Publisher.make(tmp_path / "keys", "acme-2026")


@pytest.fixture
def package(tmp_path: Path, publisher: Publisher) -> Path:
    return signed_package(HEADER_RULES, tmp_path / "out", publisher)


def verify(trusted: TrustedKeys, package: Path, allow_unsigned: bool = False):
    sig = signature_path(package)
    return trusted.verify(package, sig.read_bytes() if sig.exists() else None, allow_unsigned)


def test_a_good_signature_verifies(publisher: Publisher, package: Path) -> None:
    verified = verify(publisher.trusted, package)
    assert verified.signed_by == "acme-2026"
    assert verified.sha256 == file_sha256(package)
    document = json.loads(signature_path(package).read_text())
    assert document["format"] == "mairust-plugin-signature/1"
    assert document["sha256"] == verified.sha256


def test_a_changed_package_is_refused(publisher: Publisher, package: Path) -> None:
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01
    package.write_bytes(bytes(data))
    with pytest.raises(SignatureRefused, match=r"does not match its signature"):
        verify(publisher.trusted, package)
    # The attacker also edits the digest in the signature file: the signature then fails.
    sig = signature_path(package)
    document = json.loads(sig.read_text())
    document["sha256"] = file_sha256(package)
    sig.write_text(json.dumps(document))
    with pytest.raises(SignatureRefused, match=r"does not verify with key 'acme-2026'"):
        verify(publisher.trusted, package)


def test_an_unknown_key_is_refused(tmp_path: Path, package: Path) -> None:
    stranger = Publisher.make(tmp_path / "other", "someone-else")
    with pytest.raises(SignatureRefused, match=r"key 'acme-2026', which is not trusted"):
        verify(stranger.trusted, package)
    # A trusted id with another key behind it: the signature does not verify.
    impostor = TrustedKeys.from_config({"acme-2026": stranger.public})
    with pytest.raises(SignatureRefused, match=r"does not verify"):
        verify(impostor, package)


def test_unsigned_is_refused_unless_allowed(tmp_path: Path, publisher: Publisher) -> None:
    unsigned = signed_package(HEADER_RULES, tmp_path / "unsigned", None)
    with pytest.raises(SignatureRefused, match=r"is not signed.*allow_unsigned_files"):
        verify(publisher.trusted, unsigned)
    assert verify(publisher.trusted, unsigned, allow_unsigned=True).signed_by is None


def test_allowing_unsigned_does_not_excuse_a_bad_signature(
    publisher: Publisher, package: Path
) -> None:
    package.write_bytes(package.read_bytes() + b"\0")
    with pytest.raises(SignatureRefused, match=r"does not match"):
        verify(publisher.trusted, package, allow_unsigned=True)


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'{"format": "other/1"}', b"{" + b" " * 5000 + b"}"],
)
def test_a_malformed_signature_file_is_refused(
    publisher: Publisher, package: Path, content: bytes
) -> None:
    signature_path(package).write_bytes(content)
    with pytest.raises(SignatureRefused, match=r"malformed|too large"):
        verify(publisher.trusted, package)


def test_keygen_keeps_the_private_key_private(tmp_path: Path) -> None:
    key_path, pub_path, public = generate_key_pair(tmp_path, "k1")
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert pub_path.read_text().strip() == public
    assert b"PRIVATE KEY" in key_path.read_bytes()
    with pytest.raises(InvalidInput, match=r"exists already"):
        generate_key_pair(tmp_path, "k1")
    with pytest.raises(InvalidInput, match=r"not a key id"):
        generate_key_pair(tmp_path, "../k2")
