"""Pebble, Let's Encrypt's ACME test CA, run as a real process on loopback.

The binary is built (or found built) by .ci/build-go-plugins.sh, next to the Go plugin; a
failed build FAILS the test. Its HTTPS (the directory and the management API) serves a
certificate from a :class:`LoopbackCa` made here, so a client trusts ``ca_file`` and
nothing else. Pebble resolves the names it validates with the DNS server on
``127.0.0.1:dns_port`` (a ``ZoneServer``) and fetches HTTP-01 answers from port
``http_port`` of the address a name resolves to. Challenges are checked at once
(``PEBBLE_VA_NOSLEEP``), every nonce is accepted and every order is validated anew.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tests.support.dns_server import ZoneServer
from tests.support.go_plugins import build_go_plugins
from tests.support.tls_ca import LoopbackCa

PEBBLE_ADDRESS = "127.0.0.110"
START_TIMEOUT = 15.0


def pebble_binary() -> Path:
    """Pebble, installed by the Go build script into the folder of the plugin binary."""
    binary = build_go_plugins().parent / "pebble"
    assert binary.is_file() and os.access(binary, os.X_OK), f"no Pebble at {binary}"
    return binary


def free_port(address: str) -> int:
    """A port free on ``address`` now (TCP), for a server started right after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningPebble:
    directory_url: str
    management_url: str
    ca_file: Path  # trusts Pebble's own HTTPS (directory, management)
    process: subprocess.Popen[bytes]

    def _get(self, path: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        with urllib.request.urlopen(self.management_url + path, context=context) as answer:
            data: bytes = answer.read()
            return data

    def root_pem(self) -> bytes:
        """The root Pebble made at its start (it signs the intermediate)."""
        return self._get("/roots/0")

    def intermediate_pem(self) -> bytes:
        """The intermediate that signs the certificates Pebble issues."""
        return self._get("/intermediates/0")


@contextmanager
def pebble(
    folder: Path, *, dns_port: int, http_port: int, address: str = PEBBLE_ADDRESS
) -> Iterator[RunningPebble]:
    """Pebble on ``address`` (directory and management on free ports) until exit."""
    binary = pebble_binary()
    ca = LoopbackCa("Pebble WFE test CA", folder)
    cert_file, key_file = ca.issue("localhost", addresses=(address,))
    listen, manage = free_port(address), free_port(address)
    config = {
        "pebble": {
            "listenAddress": f"{address}:{listen}",
            "managementListenAddress": f"{address}:{manage}",
            "certificate": str(cert_file),
            "privateKey": str(key_file),
            "httpPort": http_port,
            "tlsPort": free_port(address),  # TLS-ALPN-01: not used by these tests
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "retryAfter": {"authz": 1, "order": 1},
            "keyAlgorithm": "ecdsa",
            "profiles": {"default": {"description": "tests", "validityPeriod": 7776000}},
        }
    }
    config_file = folder / "pebble-config.json"
    config_file.write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",
    }
    log_file = (folder / "pebble.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            "-config",
            str(config_file),
            "-dnsserver",
            f"127.0.0.1:{dns_port}",
            "-strict",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=folder,
    )
    running = RunningPebble(
        f"https://{address}:{listen}/dir", f"https://{address}:{manage}", ca.ca_file, process
    )
    try:
        _wait_until_up(running, folder / "pebble.log")
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log_file.close()


def starttls_certificate(port: int, name: str, trust: Path) -> x509.Certificate:
    """The certificate the SMTP listener on 127.0.0.1:``port`` shows after STARTTLS,
    verified for ``name`` against ``trust`` only (ssl.SSLCertVerificationError if not)."""
    context = ssl.create_default_context(cafile=str(trust))
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client._host = name  # type: ignore[attr-defined]  # the name starttls() checks
        client.starttls(context=context)
        der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    assert der is not None
    return x509.load_der_x509_certificate(der)


@contextmanager
def acme_world(folder: Path, names: dict[str, str], http_port: int) -> Iterator[RunningPebble]:
    """Pebble with a ZoneServer that resolves each of ``names`` to its address (A), and
    validates HTTP-01 at ``http_port`` there."""
    folder.mkdir(parents=True, exist_ok=True)
    records = {name: {"A": [address]} for name, address in names.items()}
    with ZoneServer(records) as zone, pebble(folder, dns_port=zone.port, http_port=http_port) as ca:
        yield ca


def _wait_until_up(running: RunningPebble, log: Path) -> None:
    context = ssl.create_default_context(cafile=str(running.ca_file))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert running.process.poll() is None, f"Pebble exited:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(running.directory_url, context=context, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"Pebble did not answer:\n{log.read_text()}") from None
            time.sleep(0.1)
