"""What an authentication outcome means for the SMTP transaction: local policy.

Mechanism (the checks) is apart from policy (this module, STYLE: KumoMTA). The outcome
is a :class:`~mairust.model.verdict.Verdict`, the same closed set hooks answer with; the
SMTP edge turns it into a reply in one place (``mairust.smtp.replies.reply_for``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from mairust.auth.results import AuthResults, DmarcWord, SpfResult, SpfWord
from mairust.config import AuthSettings, DmarcMode, SpfMode
from mairust.model.annotations import Annotations
from mairust.model.policy import NO_POLICY, DomainPolicy
from mairust.model.verdict import CONTINUE, Source, Verdict, VerdictKind

QUARANTINE_FOLDER = "Junk"
QUARANTINE_TAG = "dmarc-quarantine"
_DMARC_STRICTNESS: dict[DmarcMode, int] = {"record": 0, "quarantine": 1, "enforce": 2}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthPolicy:
    """Decisions at RCPT (SPF) and at the end of DATA (DMARC), per recipient domain.

    A domain's mode comes from its own policy (set over the API, read with its route),
    else from ``[auth.domains]``, else from ``[auth]``.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._trusted = _networks(settings.trusted_networks)
        self._forwarders = _networks(settings.trusted_forwarders)

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    def skips(self, client_ip: str) -> bool:
        """True when this client's mail is not checked at all (trusted networks)."""
        return not self._settings.enabled or _contains(self._trusted, client_ip)

    def on_recipient(
        self,
        spf: SpfResult | None,
        client_ip: str,
        recipient_domain: str,
        own: DomainPolicy = NO_POLICY,
    ) -> Verdict:
        if spf is None:
            return CONTINUE
        if spf.result is SpfWord.TEMPERROR and self._settings.tempfail_on_dns_error:
            return Verdict(VerdictKind.TEMPFAIL, Source.DNS, f"SPF: {spf.reason or 'DNS error'}")
        if _contains(self._forwarders, client_ip):
            return CONTINUE
        if spf.result is SpfWord.FAIL and self._spf_mode(recipient_domain, own) == "enforce":
            reason = spf.reason or f"SPF fail for {spf.domain}"
            return Verdict(VerdictKind.REJECT, Source.SPF, reason)
        return CONTINUE

    def on_message(
        self,
        results: AuthResults,
        client_ip: str,
        recipient_domains: Iterable[str],
        own: Mapping[str, DomainPolicy] | None = None,
    ) -> Verdict:
        dmarc = results.dmarc
        if dmarc is None:
            return CONTINUE
        if dmarc.result is DmarcWord.TEMPERROR and self._settings.tempfail_on_dns_error:
            reason = f"DMARC: {dmarc.reason or 'DNS error'}"
            return Verdict(VerdictKind.TEMPFAIL, Source.DNS, reason)
        if dmarc.result is not DmarcWord.FAIL or _contains(self._forwarders, client_ip):
            return CONTINUE
        # Several recipient domains in one transaction: the strictest of their modes.
        mode = max(
            (
                self._dmarc_mode(domain, (own or {}).get(domain, NO_POLICY))
                for domain in recipient_domains
            ),
            key=_DMARC_STRICTNESS.__getitem__,
            default=self._settings.dmarc,
        )
        reason = f"DMARC policy of {dmarc.from_domain} ({dmarc.policy}) failed"
        if dmarc.policy == "reject" and mode == "enforce":
            return Verdict(VerdictKind.REJECT, Source.DMARC, reason)
        if dmarc.policy in ("reject", "quarantine") and mode != "record":
            return Verdict(
                VerdictKind.QUARANTINE,
                Source.DMARC,
                reason,
                annotations=Annotations(folder=QUARANTINE_FOLDER, tags=(QUARANTINE_TAG,)),
            )
        return CONTINUE

    def _spf_mode(self, domain: str, own: DomainPolicy) -> SpfMode:
        if own.spf is not None:
            return own.spf
        override = self._settings.domains.get(domain)
        return override.spf if override and override.spf else self._settings.spf

    def _dmarc_mode(self, domain: str, own: DomainPolicy) -> DmarcMode:
        if own.dmarc is not None:
            return own.dmarc
        override = self._settings.domains.get(domain)
        return override.dmarc if override and override.dmarc else self._settings.dmarc


def _networks(values: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _contains(networks: tuple[Network, ...], client_ip: str) -> bool:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
