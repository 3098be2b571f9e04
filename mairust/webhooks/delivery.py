"""The webhook delivery loop: lease due deliveries, POST them signed, record what happened.

A plain core class (no Ray): an actor or ``mairust up`` hosts it under a
:class:`~mairust.supervision.Supervisor` (:meth:`WebhookDeliveryLoop.supervisor`). All
state is in the store's outbox (invariant 2): each round leases up to ``batch_size`` due
deliveries, sends them through the :class:`~mairust.net.http_client.SafeHttpClient`
(``concurrency`` at a time), and settles each one:

- a 2xx answer: delivered;
- a refused or invalid destination, or 410 Gone: failed at once (retrying an address the
  policy refuses would only knock on it again; the tenant can fix the URL and redeliver);
- anything else (other statuses, timeouts, connection and DNS failures, a missing
  secret): retried after ``retry_base * 2^(attempt-1)`` seconds, capped, with jitter
  (half to all of it, so that receivers that failed together are not hit together
  again), until ``max_attempts``, then failed. Failed deliveries stay listed.

A loop that stops (crash, restart) leaves leases that expire; a loop starting with the
same identity hands back its predecessors' leases at once. A delivery may so be sent
twice; its ``webhook-id`` is the same each time, for the receiver to drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust.config import WebhookSettings
from mairust.errors import MairustError
from mairust.leased_loop import LeasedLoop
from mairust.model.webhooks import WebhookDelivery
from mairust.net.address_guard import AddressPolicy, DestinationRefused, OutgoingRequestError
from mairust.net.host_resolver import HostResolver, system_resolver
from mairust.net.http_client import ClientLimits, InvalidDestination, SafeHttpClient
from mairust.storage.protocols import WebhookOutbox
from mairust.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

LOOP_NAME = "webhook delivery loop"
_MAX_ERROR_CHARS = 500

# (tenant id, secret id) → the secret (``whsec_...``), from the secret store, read in the
# delivery's tenant (so an endpoint naming another tenant's secret id gets NotFound, never
# that secret); tenant None: a webhook plugin's delivery, signed with a platform secret.
# Called in a thread; a MairustError means "not now" (retried).
SecretLookup = Callable[[str | None, str], str]


def safe_client(
    settings: WebhookSettings, resolver: HostResolver = system_resolver
) -> SafeHttpClient:
    """The outgoing HTTP client as ``[webhooks]`` configures it."""
    limits = ClientLimits(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        total_timeout=settings.total_timeout,
        max_redirects=settings.max_redirects,
        max_response_bytes=settings.max_response_bytes,
    )
    return SafeHttpClient(AddressPolicy.allowing(settings.allow_networks), resolver, limits)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are leased and retried."""

    max_attempts: int = 10
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 6 * 3600.0
    lease_seconds: float = 120.0
    batch_size: int = 16
    concurrency: int = 8
    poll_interval: float = 2.0

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            lease_seconds=settings.lease_seconds,
            batch_size=settings.batch_size,
            concurrency=settings.concurrency,
            poll_interval=settings.poll_interval,
        )

    def retry_delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones (jittered)."""
        exponent = min(max(attempts - 1, 0), 32)
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * float(2**exponent))
        return ceiling * (0.5 + rng.random() / 2)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one round did (for logs, stats and tests)."""

    delivered: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def leased(self) -> int:
        return self.delivered + self.deferred + self.failed


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: str  # "delivered" | "retry" | "fail"
    status: int | None
    error: str | None = None


class WebhookDeliveryLoop(LeasedLoop):
    """Delivers the outbox; ``identity`` names this loop across restarts (node, data dir)."""

    loop_name = LOOP_NAME
    rows = "deliveries"

    def __init__(
        self,
        outbox: WebhookOutbox,
        client: SafeHttpClient,
        secret_for: SecretLookup,
        identity: str,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(identity)
        self._outbox = outbox
        self._client = client
        self._secret_for = secret_for
        self.policy = policy or DeliveryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()

    @property
    def batch_size(self) -> int:
        return self.policy.batch_size

    @property
    def poll_interval(self) -> float:
        return self.policy.poll_interval

    def release_leases(self, owner_prefix: str, keep_owner: str) -> int:
        return self._outbox.release_webhook_leases(owner_prefix, keep_owner)

    async def leased_round(self) -> int:
        return (await self.deliver_due()).leased

    async def deliver_due(self) -> RoundResult:
        """One round: lease a batch, send each, settle each."""
        self.rounds += 1
        batch = await asyncio.to_thread(
            self._outbox.lease_webhook_deliveries,
            self.owner,
            self.policy.batch_size,
            self.policy.lease_seconds,
        )
        if not batch:
            return RoundResult()
        limit = asyncio.Semaphore(self.policy.concurrency)

        async def one(delivery: WebhookDelivery) -> str:
            async with limit:
                try:
                    outcome = await self._attempt(delivery)
                except Exception as error:  # one delivery's bug must not hold up the rest
                    log.exception("webhook %s: unexpected error", delivery.id)
                    outcome = _Outcome("retry", None, f"internal error: {error!r}")
            return await asyncio.to_thread(self._settle, delivery, outcome)

        kinds = await asyncio.gather(*(one(delivery) for delivery in batch))
        return RoundResult(
            delivered=kinds.count("delivered"),
            deferred=kinds.count("deferred"),
            failed=kinds.count("failed"),
        )

    async def _attempt(self, delivery: WebhookDelivery) -> _Outcome:
        body = delivery.body.encode()
        try:
            secret = await asyncio.to_thread(
                self._secret_for, delivery.tenant_id, delivery.secret_id
            )
            headers = signed_headers(secret, delivery.id, int(self._clock()), body)
        except MairustError as error:  # never sent unsigned: retried until it is readable
            return _Outcome("retry", None, f"signing secret unavailable: {error}")
        headers["content-type"] = "application/json"
        try:
            response = await self._client.post(delivery.url, body, headers)
        except (DestinationRefused, InvalidDestination) as error:
            return _Outcome("fail", None, str(error))
        except OutgoingRequestError as error:
            return _Outcome("retry", None, str(error))
        if 200 <= response.status < 300:
            return _Outcome("delivered", response.status)
        if response.status == 410:
            return _Outcome("fail", 410, "HTTP 410 Gone: the receiver wants no more")
        return _Outcome("retry", response.status, f"HTTP {response.status}")

    def _settle(self, delivery: WebhookDelivery, outcome: _Outcome) -> str:
        """Record the outcome; returns what became of the delivery."""
        error = (outcome.error or "")[:_MAX_ERROR_CHARS]
        if outcome.kind == "delivered":
            assert outcome.status is not None
            kept = self._outbox.mark_webhook_delivered(delivery.id, self.owner, outcome.status)
            kind = "delivered"
        elif outcome.kind == "retry" and delivery.attempts < self.policy.max_attempts:
            delay = self.policy.retry_delay(delivery.attempts, self._rng)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
            kept = self._outbox.defer_webhook_delivery(
                delivery.id, self.owner, error, retry_at, outcome.status
            )
            kind = "deferred"
        else:
            if outcome.kind == "retry":
                error = f"gave up after {delivery.attempts} attempts: {error}"
            kept = self._outbox.fail_webhook_delivery(
                delivery.id, self.owner, error, outcome.status
            )
            kind = "failed"
            log.warning("webhook %s to %s failed: %s", delivery.id, delivery.url, error)
        if not kept:
            log.warning("webhook %s: lease lost before it was settled (%s)", delivery.id, kind)
        return kind
