"""An ACME client (RFC 8555) for the SMTP listeners' certificate, on certbot's ``acme``
library: the account (its key a private file made once), an order for the configured
names, their HTTP-01 challenges answered from a listener of our own, the certificate
chain and its new key.

Synchronous (``acme`` talks over ``requests``): the renewal loop runs :meth:`AcmeIssuer.issue`
in a thread. The challenge listener (:class:`ChallengeServer`) is open only while an
order is being validated, so port 80 is not held between renewals.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from mairust.errors import MairustError
from mairust.secrets.private_file import read_or_create_private_file

log = logging.getLogger(__name__)

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
USER_AGENT = "mairust-acme"


class AcmeFailed(MairustError):
    """The CA could not be reached, refused the account or the order, or a challenge
    failed; nothing was written."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate from the CA: the chain (leaf first) and the key made for it, PEM."""

    chain_pem: bytes
    key_pem: bytes


def new_ec_key_pem() -> bytes:
    """A new P-256 private key, PKCS#8 PEM (for the account and for each certificate)."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_account_key(path: Path) -> bytes:
    """The account's private key from ``path`` (0600), made there on first use: the CA
    knows the account by this key, so it is kept across renewals and restarts."""
    return read_or_create_private_file(path, new_ec_key_pem)


class _ChallengeHandler(BaseHTTPRequestHandler):
    server: _ChallengeHttpServer

    def do_GET(self) -> None:
        answer = None
        if self.path.startswith(CHALLENGE_PREFIX):
            answer = self.server.responses.get(self.path.removeprefix(CHALLENGE_PREFIX))
        body = (answer or "not found").encode("ascii")
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("HTTP-01 %s: " + format, self.client_address[0], *args)


class _ChallengeHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    responses: dict[str, str]


class ChallengeServer:
    """Answers HTTP-01 challenges (RFC 8555 §8.3) on ``address:port`` while entered:
    ``GET /.well-known/acme-challenge/<token>`` gives that token's key authorization,
    anything else a 404."""

    def __init__(self, address: str, port: int) -> None:
        self._address = (address, port)
        self._responses: dict[str, str] = {}
        self._server: _ChallengeHttpServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, token: str, key_authorization: str) -> None:
        self._responses[token] = key_authorization

    @property
    def port(self) -> int:
        """The port as bound (the one asked for, or a free one when that was 0)."""
        if self._server is None:
            raise RuntimeError("the challenge server is not running")
        return int(self._server.server_address[1])

    def __enter__(self) -> ChallengeServer:
        server = _ChallengeHttpServer(self._address, _ChallengeHandler)
        server.responses = self._responses
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True, name="acme-http-01"
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


class AcmeIssuer:
    """Orders certificates from one ACME directory with one account."""

    def __init__(
        self,
        directory_url: str,
        account_key_pem: bytes,
        *,
        email: str = "",
        ca_file: str = "",
        http_address: str = "127.0.0.1",
        http_port: int = 80,
        timeout_seconds: float = 90.0,
    ) -> None:
        self._directory_url = directory_url
        key = serialization.load_pem_private_key(account_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the ACME account key must be an EC (P-256) key")
        self._account_key = JWKEC(key=key)
        self._email = email
        self._ca_file = ca_file
        self._http_address = http_address
        self._http_port = http_port
        self._timeout = timeout_seconds

    def issue(self, domains: Sequence[str]) -> IssuedCertificate:
        """A new certificate for ``domains`` (a new key, the first name its subject).
        Raises :class:`AcmeFailed`."""
        try:
            return self._issue(list(domains))
        except (errors.Error, requests.RequestException, OSError) as error:
            raise AcmeFailed(f"ACME order for {', '.join(domains)} failed: {error}") from error

    def _issue(self, domains: list[str]) -> IssuedCertificate:
        acme = self._client()
        key_pem = new_ec_key_pem()
        order = acme.new_order(crypto_util.make_csr(key_pem, domains))
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=self._timeout)
        with ChallengeServer(self._http_address, self._http_port) as responder:
            for authorization in order.authorizations:
                if authorization.body.status == messages.STATUS_VALID:
                    continue  # validated lately for this account: nothing to answer
                challenge = _http01_of(authorization)
                response, validation = challenge.response_and_validation(self._account_key)
                responder.add(challenge.chall.encode("token"), validation)
                acme.answer_challenge(challenge, response)
            # poll_and_finalize takes a naive local deadline (the library compares with now()).
            order = acme.poll_and_finalize(order, deadline)
        if not order.fullchain_pem:
            raise AcmeFailed(f"the CA finalized the order for {domains[0]} without a certificate")
        log.info("ACME: certificate issued for %s", ", ".join(domains))
        return IssuedCertificate(order.fullchain_pem.encode("ascii"), key_pem)

    def _client(self) -> client.ClientV2:
        """A client with the account registered (or found: the CA knows the key)."""
        net = client.ClientNetwork(self._account_key, alg=ES256, user_agent=USER_AGENT, timeout=30)
        if self._ca_file:
            # requests takes a CA bundle's path where the library passes its bool.
            net.verify_ssl = self._ca_file  # type: ignore[assignment]
        directory = client.ClientV2.get_directory(self._directory_url, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self._email or None, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as existing:
            # The key has an account already: use it (its URL is the error's location).
            acme.query_registration(
                messages.RegistrationResource(uri=existing.location, body=messages.Registration())
            )
        return acme


def _http01_of(authorization: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authorization.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    name = authorization.body.identifier.value
    raise AcmeFailed(f"the CA offers no HTTP-01 challenge for {name}")
