"""DKIM-signed load: a sending domain with its DNS records, and messages it signed.

Owns one sender domain (an RSA-2048 key, SPF for the client's address and the HELO name,
the DKIM key record, DMARC ``p=reject``) and a set of distinct messages, each signed with
that key (relaxed/relaxed, one signature) and exactly ``size`` bytes with its signature.
Every message differs (its Message-ID and Subject), so a server sees per-message signatures,
which ``smtp-source`` (one prepared file for every message) cannot send; ``smtp_load`` sends
these. dkimpy signs in pure Python (~6 ms a message), so they are signed once, up front.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import dkim  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from load.message_factory import MessageFactory

SELECTOR = "reference"
DMARC_RECORD = "v=DMARC1; p=reject"


@dataclass(frozen=True)
class SigningDomain:
    """A sender domain allowed to send from ``client_ip``, with its private key."""

    name: str
    client_ip: str
    private_pem: bytes
    dkim_txt: str

    @classmethod
    def generate(cls, name: str, client_ip: str = "127.0.0.1") -> SigningDomain:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        txt = f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode()}"
        return cls(name, client_ip, pem, txt)

    @property
    def mail_from(self) -> str:
        return f"load@{self.name}"

    @property
    def helo(self) -> str:
        return f"mx.{self.name}"

    def records(self) -> dict[str, dict[str, Any]]:
        """The zone (for ``tests.support.dns_server.ZoneServer``) that makes SPF (MAIL FROM and
        HELO), DKIM and DMARC pass for mail from ``client_ip``."""
        spf = f"v=spf1 ip4:{self.client_ip} -all"
        return {
            self.name: {"TXT": [spf]},
            self.helo: {"TXT": [spf], "A": [self.client_ip]},
            f"{SELECTOR}._domainkey.{self.name}": {"TXT": [self.dkim_txt]},
            f"_dmarc.{self.name}": {"TXT": [DMARC_RECORD]},
        }

    def sign(self, message: bytes) -> bytes:
        signature: bytes = dkim.sign(
            message,
            SELECTOR.encode(),
            self.name.encode(),
            self.private_pem,
            canonicalize=(b"relaxed", b"relaxed"),
        )
        return signature + message


class SignedMessages:
    """``count`` distinct messages to ``recipient``, each signed by ``domain`` and exactly
    ``size`` bytes; message ``i`` of a run is number ``i % count``. A ``MessageSource``."""

    def __init__(self, domain: SigningDomain, recipient: str, size: int, count: int) -> None:
        self._recipient = recipient

        def factory(unsigned_size: int) -> MessageFactory:
            return MessageFactory(
                size=unsigned_size,
                mail_from=domain.mail_from,
                to_pattern=recipient,
                to_count=1,
                recipients_per_message=1,
                id_domain=domain.name,
            )

        # The signature's length is known once signed; it is the same for every message here
        # (same headers signed, fixed-size hashes), which the size check below confirms.
        signature_size = len(domain.sign(factory(size).build(0))) - size
        unsigned = factory(size - signature_size)
        self._messages = [domain.sign(unsigned.build(i)) for i in range(count)]
        wrong = [i for i, message in enumerate(self._messages) if len(message) != size]
        if wrong:
            raise RuntimeError(f"signed messages {wrong[:5]} are not exactly {size} bytes")

    def __len__(self) -> int:
        return len(self._messages)

    def recipients(self, index: int) -> list[str]:
        return [self._recipient]

    def build(self, index: int) -> bytes:
        return self._messages[index % len(self._messages)]
