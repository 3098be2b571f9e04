"""Per-destination TLS for outbound delivery: a domain's MTA-STS policy and the operator's
``require_tls`` list, turned into what one SMTP delivery must do.

:class:`DestinationTlsPolicies` is called with a destination (a recipient domain) and
gives a :class:`DestinationTls`, or None when nothing beyond the ``[outbound] tls``
default applies:

- MTA-STS ``enforce`` (RFC 8461 §5): only MX hosts matching the policy's patterns are
  used (none left: a temporary 4.7.5, nothing sent), and STARTTLS with a certificate that
  validates against the configured CAs for the MX host name is required; any failure is a
  temporary failure, never a delivery in clear (the client's REQUIRED policy).
- MTA-STS ``testing``: delivery as without a policy, but TLS is tried with the
  validating context first and every failure (no STARTTLS, bad certificate, an MX outside
  the patterns) is logged and recorded; after a certificate that does not validate, the
  session is opened again with unverified TLS (clear text only without STARTTLS).
- ``require_tls`` domains: STARTTLS with a validating certificate required, as above,
  whatever MX the domain names. A domain with both gets the stricter of each.

Failures go to a :class:`~mairust.outbound.tls_reports.TlsReportLog` by policy domain, in
RFC 8460's result types, with the policy's lines and the successful TLS sessions, so a
TLS-RPT report can be built. Relay destinations are not policy domains (the relay's own
settings apply).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from mairust.auth.dns import Resolver
from mairust.config import OutboundTlsSettings
from mairust.net.address_guard import AddressPolicy
from mairust.net.host_resolver import record_resolver
from mairust.net.http_client import ClientLimits, SafeHttpClient
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.mta_sts import MAX_POLICY_BYTES, PolicyMode, mx_matches
from mairust.outbound.mta_sts_policies import MtaStsPolicies
from mairust.outbound.mx import Endpoint, Route
from mairust.outbound.smtp_client import default_ssl_context
from mairust.outbound.smtp_types import ClientSettings, MessageResult, TlsPolicy
from mairust.outbound.tls_reports import TlsReportLog, result_type_of, sts_policy_string
from mairust.storage.protocols import MtaStsPolicyStore

log = logging.getLogger(__name__)


class MxNotInPolicy(DeliveryFailure):
    """MTA-STS enforce: none of the domain's MX hosts matches its policy's patterns."""

    default_code = "4.7.5"


@dataclass(frozen=True, slots=True)
class DestinationTls:
    """What one destination's TLS policy asks of a delivery (see the module docstring).

    ``tls`` None keeps the settings' own policy; ``mx_patterns`` None allows every MX;
    ``enforce_mx`` False only reports an MX outside the patterns.
    """

    policy_domain: str
    policy_type: str  # "sts" (RFC 8460) or "require-tls"
    reason: str  # for logs: "mta-sts enforce (id 2026)", "require_tls"
    tls: TlsPolicy | None
    ssl_context: ssl.SSLContext | None = None
    mx_patterns: tuple[str, ...] | None = None
    enforce_mx: bool = False
    reports: TlsReportLog | None = None
    policy_string: tuple[str, ...] = ()  # the MTA-STS policy's lines, for TLS reports
    # MX hosts of this delivery whose TLS failed: their sessions (testing mode goes on over
    # unverified TLS) are failures in a TLS report, not successful sessions as well.
    failed_hosts: set[str] = field(default_factory=set, compare=False, repr=False)

    def endpoints(self, route: Route) -> tuple[Endpoint, ...]:
        """The route's endpoints this policy lets mail go to; MxNotInPolicy if none."""
        endpoints = route.endpoints()
        if self.mx_patterns is None or route.source == "relay":
            return endpoints
        outside = {e.host for e in endpoints if not self._allowed(e.host)}
        self.failed_hosts.update(outside)
        for host in sorted(outside):
            detail = f"MX {host} does not match the policy's mx {list(self.mx_patterns)}"
            log.warning("%s: %s: %s", self.policy_domain, self.reason, detail)
            if self.reports is not None:
                self.reports.failure(
                    self.policy_domain,
                    self.policy_type,
                    "validation-failure",
                    host,
                    None,
                    detail,
                    policy_string=self.policy_string,
                    mx_patterns=self.mx_patterns or (),
                )
        if not self.enforce_mx:
            return endpoints
        kept = tuple(e for e in endpoints if e.host not in outside)
        if not kept:
            raise MxNotInPolicy(
                f"{self.reason}: no MX of {self.policy_domain} matches the policy "
                f"({', '.join(sorted(outside))}): not sent"
            )
        return kept

    def _allowed(self, host: str) -> bool:
        return any(mx_matches(pattern, host) for pattern in self.mx_patterns or ())

    def client_settings(self, base: ClientSettings) -> ClientSettings:
        """``base`` with this policy's TLS, its validating context and the observer."""
        tls = self.tls or base.tls
        if tls is TlsPolicy.OFF:
            return base
        fallback = None
        if tls is TlsPolicy.OPPORTUNISTIC:
            # testing: a certificate that fails validation is reported, and the mail goes
            # over unverified TLS as it would without a policy, not in clear.
            fallback = default_ssl_context(TlsPolicy.OPPORTUNISTIC)
        return replace(
            base,
            tls=tls,
            ssl_context=self.ssl_context or base.ssl_context,
            tls_observer=self._observe,
            fallback_context=fallback,
        )

    def _observe(self, endpoint: Endpoint, failure: DeliveryFailure) -> None:
        result_type = result_type_of(failure)
        self.failed_hosts.add(endpoint.host)
        log.warning(
            "%s: %s: %s [%s]: %s (%s)",
            self.policy_domain,
            self.reason,
            endpoint.host,
            endpoint.address,
            failure,
            result_type,
        )
        if self.reports is not None:
            self.reports.failure(
                self.policy_domain,
                self.policy_type,
                result_type,
                endpoint.host,
                endpoint.address,
                str(failure),
                policy_string=self.policy_string,
                mx_patterns=self.mx_patterns or (),
            )

    def settled(self, results: Sequence[MessageResult]) -> None:
        """Count the sessions that went over TLS as the policy asked (a TLS report's
        successful sessions)."""
        if self.reports is None:
            return
        sessions = {
            (r.endpoint.host, r.endpoint.address)
            for result in results
            for r in result.recipients
            if r.tls and r.endpoint is not None and r.endpoint.host not in self.failed_hosts
        }
        if sessions:
            self.reports.success(
                self.policy_domain,
                self.policy_type,
                len(sessions),
                policy_string=self.policy_string,
                mx_patterns=self.mx_patterns or (),
            )


class DestinationTlsPolicies:
    """``await policies(destination)`` → the destination's :class:`DestinationTls` or None.

    ``ssl_context``: the validating context (the configured CA bundle, host names checked)
    used wherever a policy asks for a valid certificate; None: the system's CAs.
    """

    def __init__(
        self,
        *,
        require_tls_domains: Iterable[str] = (),
        mta_sts: MtaStsPolicies | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reports: TlsReportLog | None = None,
    ) -> None:
        self._required = frozenset(d.strip().rstrip(".").lower() for d in require_tls_domains)
        self._mta_sts = mta_sts
        self._context = ssl_context or validating_context()
        self.reports = reports

    async def aclose(self) -> None:
        """Close the policy fetcher's HTTP client."""
        if self._mta_sts is not None:
            await self._mta_sts.aclose()

    async def __call__(self, destination: str) -> DestinationTls | None:
        if destination.startswith("relay:"):
            return None
        domain = destination.strip().rstrip(".").lower()
        required = domain in self._required
        known = await self._mta_sts.policy_for(domain) if self._mta_sts else None
        if known is not None and known.policy.mode is not PolicyMode.NONE:
            enforce = known.policy.mode is PolicyMode.ENFORCE
            return DestinationTls(
                policy_domain=domain,
                policy_type="sts",
                reason=f"mta-sts {known.policy.mode} (id {known.policy_id})",
                tls=TlsPolicy.REQUIRED if enforce or required else TlsPolicy.OPPORTUNISTIC,
                ssl_context=self._context,
                mx_patterns=known.policy.mx,
                enforce_mx=enforce,
                reports=self.reports,
                policy_string=sts_policy_string(known.policy),
            )
        if required:
            return DestinationTls(
                policy_domain=domain,
                policy_type="require-tls",
                reason="require_tls",
                tls=TlsPolicy.REQUIRED,
                ssl_context=self._context,
                reports=self.reports,
            )
        return None


def validating_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that checks the chain (``ca_file``, else the system's CAs) and
    the host name, TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def destination_tls_policies(
    settings: OutboundTlsSettings,
    resolver: Resolver,
    *,
    reports: TlsReportLog | None = None,
    store: MtaStsPolicyStore | None = None,
) -> DestinationTlsPolicies:
    """The ``[outbound_tls]`` section made live: policy hosts resolved by ``resolver`` (the
    one MX lookups use), fetched through the guarded HTTP client with the CA bundle,
    policies kept in ``store`` across restarts when one is given."""
    context = validating_context(settings.ca_file or None)
    mta_sts = None
    if settings.mta_sts:
        timeout = settings.policy_fetch_timeout
        http = SafeHttpClient(
            AddressPolicy.allowing(settings.policy_allow_networks),
            record_resolver(resolver),
            ClientLimits(
                connect_timeout=timeout,
                read_timeout=timeout,
                total_timeout=timeout,
                max_redirects=0,  # RFC 8461 section 3.3: redirects are not followed
                max_response_bytes=MAX_POLICY_BYTES,
            ),
            ssl_context=context,
            user_agent="MaiRust-MTA-STS/1",
        )
        mta_sts = MtaStsPolicies(
            resolver,
            http,
            cache_size=settings.policy_cache_size,
            on_failure=reports.policy_failure if reports is not None else None,
            store=store,
        )
    return DestinationTlsPolicies(
        require_tls_domains=settings.require_tls_domains,
        mta_sts=mta_sts,
        ssl_context=context,
        reports=reports,
    )
