"""A domain's MTA-STS policy as a sender must see it (RFC 8461 §3.3, §5.1): discovered,
fetched, cached, refreshed.

:meth:`MtaStsPolicies.policy_for` looks up ``_mta-sts.<domain>`` TXT through the injected
:class:`~mairust.auth.dns.Resolver`; when it names an id that the cache does not hold
(or the cached policy's ``max_age`` ran out), the policy is fetched from
``https://mta-sts.<domain>/.well-known/mta-sts.txt`` through the platform's one outgoing
HTTP client (:class:`~mairust.net.http_client.SafeHttpClient`: the address guard, the
certificate checked against the CA bundle it was given, bounded time and size). RFC 8461
§3.3: no redirect is followed, only a 200 with ``text/plain`` counts.

What the cache gives when something fails (§5.1): a cached policy still within its
``max_age`` is used when the TXT record is gone, DNS fails, or a new id's policy cannot be
fetched; without one the domain has no policy (mail goes out as it would without
MTA-STS). Failures are told to ``on_failure`` (domain, TLS-RPT result type, detail) so a
TLS report can be built. A policy id that could not be fetched is not tried again for
``retry_failed_after`` seconds: a domain whose policy host hangs would otherwise hold every
delivery to it for the whole fetch timeout.

The cache is in memory, bounded (least recently used out first), and, given a
:class:`~mairust.storage.protocols.MtaStsPolicyStore`, durable: every fetched policy is
stored, and a domain the process has not seen yet is looked for there once, so a restart
neither fetches again nor forgets a policy whose TXT record an attacker now hides (§10.2).
A store that is down costs the durable part only. Concurrent deliveries to one domain share
one fetch.

Proactive refresh (§10.2): a delivery that finds its domain's policy (same TXT id) within
``refresh_before`` seconds of its expiry (or half its max_age, if less) uses it and starts
a fetch in the background, so a domain in use never falls back to no policy because its
cache lapsed; a refresh that fails leaves the cached policy, and is tried again after
``retry_failed_after``. A new TXT id is fetched at once, as before.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mairust.auth.dns import DnsError, NxDomain, Resolver
from mairust.errors import StorageUnavailable
from mairust.model.mta_sts import StsPolicyRecord
from mairust.net.address_guard import OutgoingRequestError
from mairust.net.http_client import SafeHttpClient
from mairust.outbound.mta_sts import PolicyError, StsPolicy, parse_policy, parse_sts_record
from mairust.storage.protocols import MtaStsPolicyStore

log = logging.getLogger(__name__)

# (policy domain, TLS-RPT result type, detail): RFC 8460 §4.3's words.
PolicyFailureSink = Callable[[str, str, str], None]
# Dot-separated labels with nothing a URL or a DNS name would read otherwise.
_POLICY_DOMAIN = re.compile(r"[^\s./?#@:\[\]%\\]+(?:\.[^\s./?#@:\[\]%\\]+)+")
FETCH_ERROR = "sts-policy-fetch-error"
POLICY_INVALID = "sts-policy-invalid"
WEBPKI_INVALID = "sts-webpki-invalid"


@dataclass(frozen=True, slots=True)
class KnownPolicy:
    """A policy a sender holds: the domain's, under ``policy_id``, good until ``expires``."""

    domain: str
    policy_id: str
    policy: StsPolicy
    fetched_at: float
    expires: float


def policy_url(domain: str) -> str:
    return f"https://mta-sts.{domain}/.well-known/mta-sts.txt"


class MtaStsPolicies:
    """Policies by recipient domain (see the module docstring). ``clock``: seconds (epoch)."""

    def __init__(
        self,
        resolver: Resolver,
        http: SafeHttpClient,
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        on_failure: PolicyFailureSink | None = None,
        retry_failed_after: float = 300.0,
        store: MtaStsPolicyStore | None = None,
        refresh_before: float = 86400.0,
    ) -> None:
        self._resolver = resolver
        self._http = http
        self._cache_size = cache_size
        self._clock = clock
        self._on_failure = on_failure
        self._cache: OrderedDict[str, KnownPolicy] = OrderedDict()
        self._fetching: dict[str, asyncio.Future[KnownPolicy | None]] = {}
        self._retry_failed_after = retry_failed_after
        self._unfetchable: OrderedDict[str, tuple[str, float]] = OrderedDict()  # domain → id, until
        self._store = store
        self._store_checked: OrderedDict[str, None] = OrderedDict()  # looked up there once
        self._refresh_before = refresh_before
        self._refreshing: set[asyncio.Task[KnownPolicy | None]] = set()
        self.fetches = 0  # HTTPS fetches started (figures, tests)

    async def policy_for(self, domain: str) -> KnownPolicy | None:
        """The policy to apply to mail for ``domain`` now, or None (no MTA-STS)."""
        domain = domain.strip().rstrip(".").lower()
        if not _POLICY_DOMAIN.fullmatch(domain):
            return None  # a relay destination, an address literal: not a policy domain
        cached = self._valid(domain) or await self._stored(domain)
        try:
            records = await asyncio.to_thread(self._resolver.lookup, f"_mta-sts.{domain}", "TXT")
        except NxDomain:
            records = ()
        except DnsError as error:
            log.info("mta-sts: %s: TXT lookup failed (%s); cached: %s", domain, error, cached)
            return cached
        policy_id = parse_sts_record(records)
        if policy_id is None:
            return cached  # §5.1: a cached policy outlives its withdrawn record until max_age
        failed_id, until = self._unfetchable.get(domain, ("", 0.0))
        if failed_id == policy_id and self._clock() < until:
            return cached
        if cached is not None and cached.policy_id == policy_id:
            if self._refresh_due(cached) and domain not in self._fetching:
                # §10.2: fetched again before it lapses, so an attacker who later hides the
                # TXT record or the policy host finds a policy still held; the delivery
                # goes on with the cached one meanwhile.
                task = asyncio.create_task(self._shared_fetch(domain, policy_id, cached))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshing.discard)
            return cached
        running = self._fetching.get(domain)
        if running is not None:
            return await asyncio.shield(running)
        return await self._shared_fetch(domain, policy_id, cached)

    async def refreshes_done(self) -> None:
        """Wait for the refreshes started in the background (tests, shutdown)."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing, return_exceptions=True)

    def _refresh_due(self, known: KnownPolicy) -> bool:
        margin = min(self._refresh_before, (known.expires - known.fetched_at) / 2)
        return known.expires - self._clock() <= margin

    async def _shared_fetch(
        self, domain: str, policy_id: str, cached: KnownPolicy | None
    ) -> KnownPolicy | None:
        """One fetch of ``domain``'s policy that deliveries arriving meanwhile share."""
        future: asyncio.Future[KnownPolicy | None] = asyncio.get_running_loop().create_future()
        self._fetching[domain] = future
        try:
            known = await self._refresh(domain, policy_id, cached)
            future.set_result(known)
            return known
        except BaseException:
            # Cancelled (the loop stops): the others waiting go on with what was known.
            if not future.done():
                future.set_result(cached)
            raise
        finally:
            del self._fetching[domain]

    async def aclose(self) -> None:
        for task in list(self._refreshing):
            task.cancel()
        await asyncio.gather(*self._refreshing, return_exceptions=True)
        await self._http.aclose()

    async def _stored(self, domain: str) -> KnownPolicy | None:
        """The store's policy for a domain not looked up there yet by this process."""
        if self._store is None or domain in self._store_checked:
            return None
        self._store_checked[domain] = None
        while len(self._store_checked) > self._cache_size:
            self._store_checked.popitem(last=False)
        try:
            record = await asyncio.to_thread(self._store.get_sts_policy, domain)
        except StorageUnavailable as error:
            log.warning("mta-sts: %s: stored policy unreadable: %s", domain, error)
            return None
        if record is None or record.expires_at.timestamp() <= self._clock():
            return None
        try:
            policy = parse_policy(record.text)
        except PolicyError as error:
            log.warning(
                "mta-sts: %s: stored policy %s unusable: %s", domain, record.policy_id, error
            )
            return None
        known = KnownPolicy(
            domain,
            record.policy_id,
            policy,
            record.fetched_at.timestamp(),
            record.expires_at.timestamp(),
        )
        self._remember(known)
        return known

    def _remember(self, known: KnownPolicy) -> None:
        self._cache[known.domain] = known
        self._cache.move_to_end(known.domain)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _valid(self, domain: str) -> KnownPolicy | None:
        known = self._cache.get(domain)
        if known is None:
            return None
        if known.expires <= self._clock():
            del self._cache[domain]
            return None
        self._cache.move_to_end(domain)
        return known

    async def _refresh(
        self, domain: str, policy_id: str, cached: KnownPolicy | None
    ) -> KnownPolicy | None:
        try:
            policy, text = await self._fetch(domain)
        except PolicyError as error:
            log.warning("mta-sts: %s: policy id %s unusable: %s", domain, policy_id, error)
            self._unfetchable[domain] = (policy_id, self._clock() + self._retry_failed_after)
            self._unfetchable.move_to_end(domain)
            while len(self._unfetchable) > self._cache_size:
                self._unfetchable.popitem(last=False)
            return cached
        self._unfetchable.pop(domain, None)
        now = self._clock()
        known = KnownPolicy(domain, policy_id, policy, now, now + policy.max_age)
        self._remember(known)
        if self._store is not None:
            record = StsPolicyRecord(
                domain,
                policy_id,
                text,
                datetime.fromtimestamp(now, UTC),
                datetime.fromtimestamp(known.expires, UTC),
            )
            try:
                await asyncio.to_thread(self._store.put_sts_policy, record)
                # Fetches are rare (one per domain and max_age): the moment to forget
                # policies that no longer hold, so the table stays the size of what holds.
                await asyncio.to_thread(self._store.delete_expired_sts_policies, record.fetched_at)
            except StorageUnavailable as error:
                log.warning("mta-sts: %s: policy not stored: %s", domain, error)
        log.info("mta-sts: %s: policy %s: %s %s", domain, policy_id, policy.mode, policy.mx)
        return known

    async def _fetch(self, domain: str) -> tuple[StsPolicy, str]:
        """The policy file, parsed, and its text; PolicyError (reported) for every way it
        can fail."""
        self.fetches += 1
        url = policy_url(domain)
        try:
            response = await self._http.request("GET", url)
        except OutgoingRequestError as error:
            kind = WEBPKI_INVALID if "CERTIFICATE_VERIFY_FAILED" in str(error) else FETCH_ERROR
            raise self._failed(domain, kind, f"{url}: {error}") from None
        if response.status != 200:
            raise self._failed(domain, FETCH_ERROR, f"{url}: HTTP {response.status}")
        content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "text/plain":
            raise self._failed(domain, POLICY_INVALID, f"{url}: served as {content_type!r}")
        try:
            return parse_policy(response.body), response.body.decode()
        except PolicyError as error:
            raise self._failed(domain, POLICY_INVALID, f"{url}: {error}") from None

    def _failed(self, domain: str, result_type: str, detail: str) -> PolicyError:
        if self._on_failure is not None:
            self._on_failure(domain, result_type, detail)
        return PolicyError(detail)
