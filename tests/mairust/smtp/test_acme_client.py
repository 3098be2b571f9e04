"""The ACME client: its HTTP-01 listener on a real socket, the account key file, and
orders against a real Pebble (a certificate for the names, from Pebble's intermediate, for
the key made with it; the same account again; a challenge nobody answers)."""

from __future__ import annotations

import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mairust.smtp.acme_client import (
    AcmeFailed,
    AcmeIssuer,
    ChallengeServer,
    load_account_key,
)
from tests.support.pebble import RunningPebble, acme_world, free_port

ADDRESS = "127.0.0.111"  # where the names resolve, and the challenge listener
NAME = "mail.client.test"
ALIAS = "mx.client.test"
UNANSWERED = "nobody.client.test"  # resolves where nothing listens
NOBODY = "127.0.0.114"


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_challenge_server_answers_its_tokens_only_while_entered() -> None:
    responder = ChallengeServer(ADDRESS, 0)
    with responder:
        responder.add("tok-1", "tok-1.thumbprint")
        base = f"http://{ADDRESS}:{responder.port}"
        assert get(f"{base}/.well-known/acme-challenge/tok-1") == (200, b"tok-1.thumbprint")
        assert get(f"{base}/.well-known/acme-challenge/tok-2")[0] == 404
        assert get(f"{base}/tok-1")[0] == 404
        port = responder.port
    with pytest.raises(urllib.error.URLError):
        get(f"http://{ADDRESS}:{port}/.well-known/acme-challenge/tok-1")


def test_account_key_is_made_once_private(tmp_path: Path) -> None:
    path = tmp_path / "acme" / "account-key.pem"
    first = load_account_key(path)
    assert load_account_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    serialization.load_pem_private_key(first, password=None)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[RunningPebble, int]]:
    http_port = free_port(ADDRESS)
    names = {NAME: ADDRESS, ALIAS: ADDRESS, UNANSWERED: NOBODY}
    with acme_world(tmp_path / "pebble", names, http_port) as pebble:
        yield pebble, http_port


def issuer(pebble: RunningPebble, http_port: int, key: bytes) -> AcmeIssuer:
    return AcmeIssuer(
        pebble.directory_url,
        key,
        email="postmaster@client.test",
        ca_file=str(pebble.ca_file),
        http_address=ADDRESS,
        http_port=http_port,
    )


def test_orders_a_certificate_for_the_names_and_again_with_the_same_account(
    tmp_path: Path, world: tuple[RunningPebble, int]
) -> None:
    pebble, http_port = world
    account_key = load_account_key(tmp_path / "account-key.pem")
    intermediate = x509.load_pem_x509_certificate(pebble.intermediate_pem())

    issued = issuer(pebble, http_port, account_key).issue([NAME, ALIAS])
    chain = x509.load_pem_x509_certificates(issued.chain_pem)
    leaf = chain[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted([NAME, ALIAS])
    assert leaf.issuer == intermediate.subject
    leaf.verify_directly_issued_by(intermediate)
    assert chain[1] == intermediate  # the chain a listener serves
    key = serialization.load_pem_private_key(issued.key_pem, password=None)
    assert key.public_key() == leaf.public_key()

    # A new client, the same key: the CA's existing account is used (not an error).
    again = issuer(pebble, http_port, account_key).issue([NAME])
    assert x509.load_pem_x509_certificate(again.chain_pem).serial_number != leaf.serial_number


def test_an_unanswered_challenge_fails_the_order(
    tmp_path: Path, world: tuple[RunningPebble, int]
) -> None:
    pebble, http_port = world
    key = load_account_key(tmp_path / "account-key.pem")
    with pytest.raises(AcmeFailed, match=f"ACME order for {UNANSWERED} failed"):
        issuer(pebble, http_port, key).issue([UNANSWERED])
