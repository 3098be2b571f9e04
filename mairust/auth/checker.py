"""Run every check for one sender or one message: SPF at MAIL, DKIM/ARC/DMARC at DATA.

Synchronous and pure over the injected resolver; ``service.py`` (threads) and
``actors/auth_checker.py`` (a Ray actor pool) run it off the SMTP event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from mairust.auth.arc import verify_arc
from mairust.auth.dkim import verify_dkim
from mairust.auth.dmarc import author_domains, evaluate_dmarc
from mairust.auth.dns import Resolver
from mairust.auth.results import AuthResults, SpfResult
from mairust.auth.spf import check_helo, check_spf


@dataclass(frozen=True, slots=True)
class SenderCheck:
    """The SPF results of one transaction, made at MAIL FROM."""

    spf: SpfResult | None = None
    helo: SpfResult | None = None


class AuthChecker:
    def __init__(self, resolver: Resolver, *, min_rsa_bits: int = 1024) -> None:
        self._resolver = resolver
        self._min_rsa_bits = min_rsa_bits

    def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck:
        helo_result = check_helo(self._resolver, client_ip, helo) if helo else None
        return SenderCheck(
            spf=check_spf(self._resolver, client_ip, mail_from, helo), helo=helo_result
        )

    def check_message(self, message: bytes, sender: SenderCheck) -> AuthResults:
        dkim = verify_dkim(self._resolver, message, min_rsa_bits=self._min_rsa_bits)
        return AuthResults(
            spf=sender.spf,
            helo=sender.helo,
            dkim=dkim,
            dmarc=evaluate_dmarc(self._resolver, author_domains(message), sender.spf, dkim),
            arc=verify_arc(self._resolver, message),
        )
