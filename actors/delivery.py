"""Delivery actor: hosts one outbound delivery loop of the node.

The loop (:class:`mairust.outbound.delivery.OutboundDeliveryLoop`) runs under a
Supervisor: a store that is down is an ordinary wait; any other error restarts it with
backoff; a loop that keeps failing exits the actor (``actors/supervised.py``) and Ray
restarts it — a new incarnation that hands back its predecessor's leases at once.
Messages go out through :class:`mairust.outbound.smtp_sender.SmtpDestinationSender`
(MX through the configured resolver, one SMTP session per batch of a destination), with
each destination's TLS policy (MTA-STS, ``[outbound_tls]``: ``mairust.outbound.tls_policy``).
With ``[tls_reports] enabled``, the TLS sessions and failures counted for TLS reports are
written to the metadata store every ``flush_seconds`` by a second supervised loop (and at
stop), where the indexer's report loop reads them.
The front-end's spool nudges the first delivery actor when it commits remote recipients;
the others (and it, after a nudge is lost) find them at their next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import platform
from typing import Any

import ray

from actors.supervised import loop_report, start_supervised
from actors.telemetry import ActorTelemetry
from mairust.auth.dns_resolver import CachingResolver
from mairust.config import Settings
from mairust.log_format import configure_logging
from mairust.model.address import domain_of
from mairust.outbound.bounce_class import HARD_CLASSES
from mairust.outbound.bounce_notices import DsnNotices, classify_remote_reply
from mairust.outbound.delivery import OutboundDeliveryLoop
from mairust.outbound.forwarding import Forwarder, forwarder_from_settings
from mairust.outbound.relay_auth import RelayLogins, region_logins
from mairust.outbound.session_cache import SessionCache
from mairust.outbound.smtp_sender import SmtpDestinationSender
from mairust.outbound.smtp_types import ClientSettings
from mairust.outbound.srs import is_srs_address
from mairust.outbound.tls_policy import destination_tls_policies, validating_context
from mairust.outbound.tls_reports import TlsReportLog, run_flushes
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.factory import open_stores
from mairust.supervision import Backoff, Supervisor
from mairust.telemetry import TelemetrySnapshot

_log = logging.getLogger(__name__)

DELIVERY_ACTOR = "outbound-delivery"
TLS_FLUSH_LOOP = "tls report counts loop"


def delivery_actor_names(settings: Settings) -> list[str]:
    return [f"{DELIVERY_ACTOR}-{n}" for n in range(settings.outbound.workers)]


def delivery_identity(settings: Settings, index: int) -> str:
    """A loop's name across restarts: node name + data dir + its index on the node."""
    digest = hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:12]
    return f"outbound{index}@{platform.node() or 'localhost'}:{digest}"


class DeliveryHost:
    """One outbound delivery loop, its SMTP sender and its stores."""

    # Ray runs an async __init__ on the actor's loop (again after a restart).
    async def __init__(self, settings: Settings, index: int) -> None:  # type: ignore[misc]
        configure_logging(settings.log_level, settings.log_format)
        self._stores = open_stores(settings.storage)
        self._telemetry = ActorTelemetry()
        dns = settings.dns
        resolver = CachingResolver.from_settings(dns)
        client = ClientSettings.from_settings(
            settings.outbound, default_helo=settings.smtp.hostname
        )
        metadata = self._stores.metadata
        # MTA-STS and require_tls per destination; TLS results counted for TLS reports.
        reports_on = settings.tls_reports.enabled
        self._tls_reports = TlsReportLog(batch=reports_on)
        self._tls_plans = tls_plans = destination_tls_policies(
            settings.outbound_tls, resolver, reports=self._tls_reports, store=metadata
        )

        def is_local(address: str) -> bool:
            return metadata.get_domain(domain_of(address)) is not None

        # A forwarded copy's DSN goes to its original sender, not to our SRS address; the
        # keyring (SRS's key) is read at the first such DSN, not before.
        @functools.cache
        def forwarder() -> Forwarder | None:
            return forwarder_from_settings(settings, load_keyring(settings))

        def dsn_recipient(address: str) -> str:
            found = forwarder() if is_srs_address(address) else None
            return address if found is None else found.dsn_recipient(address, is_local(address))

        # [relay] auth: relay hosts' passwords from the secret store (none: no keyring needed).
        # and the peer regions' relay logins ([regions]: their endpoints take relayed mail
        # for the tenants homed there only after STARTTLS and AUTH).
        logins = {**region_logins(settings), **settings.relay.auth}
        vault = SecretVault(metadata, load_keyring(settings)) if logins else None
        relay_logins = RelayLogins(logins, vault)
        # Sessions kept open between batches to the same destination (connection reuse).
        self._sender = SmtpDestinationSender(
            resolver,
            client,
            port=settings.outbound.port,
            credentials_for=relay_logins.credentials_for,
            # A relay's (a peer region's) certificate is checked against the CA bundle.
            relay_context=(
                validating_context(settings.outbound_tls.ca_file)
                if settings.outbound_tls.ca_file
                else None
            ),
            tls_plan_for=tls_plans,
            cache=SessionCache(
                settings.outbound.idle_session_seconds, settings.outbound.messages_per_connection
            ),
        )
        self._loop = OutboundDeliveryLoop(
            delivery_identity(settings, index),
            metadata,
            self._stores.blobs,
            self._sender,
            settings.outbound,
            hostname=settings.smtp.hostname,
            notices=DsnNotices(settings.smtp.hostname),
            classify=classify_remote_reply,
            is_local=is_local,
            hard_classes=frozenset(HARD_CLASSES),
            dsn_recipient=dsn_recipient,
            telemetry=self._telemetry.metrics,
        )
        self._supervisor = self._loop.supervisor()
        self._task = start_supervised(self._supervisor)
        self._tls_flush: Supervisor | None = None
        self._tls_flush_task: asyncio.Task[None] | None = None
        if reports_on:
            interval = settings.tls_reports.flush_seconds

            async def flushes() -> None:
                assert self._tls_flush is not None
                await run_flushes(
                    self._tls_reports, metadata, interval, progress=self._tls_flush.progress
                )

            self._tls_flush = Supervisor(TLS_FLUSH_LOOP, flushes, Backoff(give_up_after=8))
            self._tls_flush_task = start_supervised(self._tls_flush)

    async def nudge(self) -> None:
        """Remote recipients were committed: look now rather than at the next poll."""
        self._loop.nudge()

    async def telemetry_snapshot(self) -> TelemetrySnapshot:
        """This process's counters, for the API's /metrics and /api/v1/stats."""
        return self._telemetry.snapshot()

    async def stats(self) -> dict[str, Any]:
        figures = self._loop.figures
        return {
            "rounds": self._loop.rounds,
            "delivered": figures.delivered,
            "deferred": figures.deferred,
            "bounced": figures.bounced,
            "expired": figures.expired,
            "dsns": figures.dsns,
            "sessions": figures.sessions,
            "tls_failures": sum(self._tls_reports.failures.values()),
            "loop": loop_report(self._supervisor.state),
        }

    async def rows_in_flight(self) -> int:
        """Outbound rows this loop holds now (the pool scaler's load)."""
        return self._loop.rows_in_flight

    async def node_id(self) -> str:
        return str(ray.get_runtime_context().get_node_id())

    async def retire(self, grace_seconds: float) -> bool:
        """Leave the pool gracefully (the pool scaler): lease no more, let the sessions in
        flight end and settle (up to ``grace_seconds``), then stop. True when nothing was
        cut; rows of a session cut at the end stay leased until their lease expires."""
        self._supervisor.stop()
        self._loop.stop()
        self._loop.nudge()
        try:
            async with asyncio.timeout(grace_seconds):
                # The round running now ends (it may still start sessions), then they settle.
                await asyncio.shield(self._task)
                await self._loop.wait_idle()
            settled = True
        except TimeoutError:
            _log.warning("delivery loop retiring: sessions still open after %.0f s", grace_seconds)
            settled = False
        await self.stop()
        return settled

    async def stop(self) -> None:
        self._supervisor.stop()
        self._loop.stop()
        self._task.cancel()
        # Sessions in flight are cut: their rows stay leased and the next start takes
        # them back (a remote MTA may see those again, never fewer).
        self._loop.cancel_in_flight()
        await self._sender.aclose()
        with contextlib.suppress(Exception):
            await self._task
        with contextlib.suppress(Exception):
            await self._tls_plans.aclose()
        if self._tls_flush is not None and self._tls_flush_task is not None:
            self._tls_flush.stop()
            self._tls_flush_task.cancel()
            with contextlib.suppress(BaseException):
                await self._tls_flush_task
            with contextlib.suppress(Exception):  # the store may be down: counts lost
                await self._tls_reports.flush(self._stores.metadata)
        self._stores.close()


DeliveryActor = ray.remote(num_cpus=0, max_restarts=-1)(DeliveryHost)
