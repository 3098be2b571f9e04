"""SMTP front-end actor: runs the core's SMTP listeners and spool inside one async actor.

The accept path makes no Ray call per message: the spool commits straight to the
stores, and committed batches only wake the dispatcher through a coalesced nudge
(at most one nudge call in flight, however many messages arrive).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ray

from actors.auth_checker import RayAuthService
from actors.delivery import delivery_actor_names
from actors.named import NamedActor
from actors.pool_registry import registered_members
from actors.supervised import start_supervised
from actors.telemetry import ActorTelemetry
from mairust.auth.policy import AuthPolicy
from mairust.config import Settings
from mairust.hooks.manifest import TransportKind
from mairust.log_format import configure_logging
from mairust.model.message import MessageRef
from mairust.outbound.dkim_signers import DkimSigners
from mairust.outbound.forwarding import ArcKeys, forwarder_from_settings
from mairust.pool_sizing import AUTH
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.services.application import Application
from mairust.services.hook_runtimes import platform_hook_runtime
from mairust.smtp.acme_renewal import ensure_stand_in, renewal_supervisor, renewer_from_settings
from mairust.smtp.deciders import InboundAuth
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.supervision import Backoff, Supervisor
from mairust.telemetry import TelemetrySnapshot
from serve.plugin_transport import serve_transport

_log = logging.getLogger(__name__)

NUDGE_LOOP = "dispatcher nudge forwarder"
NUDGE_BACKOFF = Backoff(give_up_after=None)
# At most one nudge per this many seconds (a spool commit may come every millisecond).
NUDGE_MIN_INTERVAL = 0.02


class CoalescedNudge:
    """A CommitListener that wakes a peer (the dispatcher, a delivery loop), folding
    bursts into one call.

    The forwarding loop is supervised and restarted with backoff for as long as the
    actor lives, never given up on: a nudge is only a hint (the peer polls its table
    anyway), so failing the front-end, and its SMTP sessions, over it would cost more
    than it saves.
    """

    def __init__(
        self,
        dispatcher: Any,
        backoff: Backoff | None = None,
        *,
        min_interval: float = NUDGE_MIN_INTERVAL,
        peer: str = "dispatcher",
    ) -> None:
        self._dispatcher = dispatcher
        self._min_interval = min_interval
        self._peer = peer
        self.sent = 0
        self._pending = asyncio.Event()
        loop_name = NUDGE_LOOP if peer == "dispatcher" else f"{peer} nudge forwarder"
        self.supervisor = Supervisor(loop_name, self._forward, backoff or NUDGE_BACKOFF)
        self._task = start_supervised(self.supervisor)

    def committed(self, refs: Sequence[MessageRef]) -> None:
        self._pending.set()

    async def _forward(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                await self._dispatcher.nudge.remote()
            # ValueError: no actor of that name (a delivery worker the pool scaler retired).
            except (ray.exceptions.RayActorError, ValueError):
                # The peer restarts and polls its table itself; the nudge is only a hint.
                _log.warning("%s unreachable; it will find the rows when it polls", self._peer)
                await asyncio.sleep(1.0)
            else:
                self.sent += 1
                self.supervisor.progress()
                # Commits arriving meanwhile fold into the next nudge: a busy dispatcher
                # leases after each batch anyway, so more calls would only cost CPU.
                await asyncio.sleep(self._min_interval)

    def close(self) -> None:
        self.supervisor.stop()
        self._task.cancel()


class FrontEndHost:
    """SMTP (inbound) and submission listeners sharing one spool: one per node, or a group
    of ``smtp.frontends_per_node`` on the same ports (SO_REUSEPORT), each with its spool."""

    # Ray runs an async __init__ on the actor's event loop, and again after a restart, so
    # the listeners come back with the actor.
    # The dispatcher and the auth checkers come by name, not handle: constructor arguments
    # must stay small and inline for a restart to rebuild the actor.
    # ``renews_certificates``: False for the other front-ends of a node's group
    # (`smtp.frontends_per_node`), which serve the files the first one keeps fresh.
    async def __init__(  # type: ignore[misc]
        self,
        settings: Settings,
        dispatcher_name: str,
        auth_checker_names: list[str],
        renews_certificates: bool = True,
    ) -> None:
        configure_logging(settings.log_level, settings.log_format)
        # aiosmtpd logs every SMTP command at INFO: far too much at volume.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        # Blob writes and group commits run in threads; the default pool (cores + 4) starves
        # under many concurrent sessions.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=32, thread_name_prefix="spool")
        )
        self._stores = open_stores(settings.storage)
        self._telemetry = ActorTelemetry()
        # Looked up on first use: the peers may still be starting.
        self._nudge = CoalescedNudge(NamedActor(dispatcher_name))
        # Remote recipients wake the first delivery loop (the others poll).
        deliveries = delivery_actor_names(settings)
        self._outbound_nudge = (
            CoalescedNudge(NamedActor(deliveries[0]), peer="outbound delivery loop")
            if deliveries
            else None
        )
        # The checker pool may have changed since the start: a restart asks the registry
        # (a front-end of a node that joined later learns it at the scaler's next look).
        if auth_checker_names:
            auth_checker_names = await registered_members(AUTH, auth_checker_names)
        auth_checkers = [NamedActor(name) for name in auth_checker_names]
        self._spool = Spool(
            self._stores.metadata,
            self._stores.blobs,
            max_batch=settings.spool.max_batch,
            listener=self._nudge,
            outbound_listener=self._outbound_nudge,
            telemetry=self._telemetry.metrics,
        )
        await self._spool.start()
        auth = None
        self._auth_service: RayAuthService | None = None
        if settings.auth.enabled and auth_checkers:
            self._auth_service = RayAuthService(auth_checkers)
            auth = InboundAuth(
                service=self._auth_service,
                policy=AuthPolicy(settings.auth),
                authserv_id=settings.auth.authserv_id or settings.smtp.hostname,
            )
        # SMTP AUTH takes a user's API token (with `send`) in place of the password.
        keyring = load_keyring(settings)
        vault = SecretVault(self._stores.metadata, keyring)
        tokens = Application.over(self._stores, keyring.token_digest_keys()).tokens
        # Serve plugins are reached through their applications' Serve handles.
        self._hooks = platform_hook_runtime(
            settings,
            self._stores.metadata,
            keyring,
            "smtp",
            {TransportKind.SERVE: serve_transport},
        )
        self._hooks.call_observer = self._telemetry.metrics.hook_calls
        # ACME keeps the listeners' certificate files fresh from here, the host of the
        # listeners that read them; a stand-in lets them start before the first one.
        renewer = (
            renewer_from_settings(settings)
            if settings.acme.enabled and renews_certificates
            else None
        )
        if renewer is not None:
            ensure_stand_in(renewer.cert_file, renewer.key_file, renewer.domains[0])
        signers = DkimSigners.from_settings(self._stores.metadata, vault, settings.dkim)
        self._frontend = SmtpFrontEnd(
            settings,
            self._stores.metadata,
            self._spool,
            auth=auth,
            token_check=tokens.authenticate_sender,
            hooks=self._hooks,
            suppressions=self._stores.metadata.suppressed,
            # What a user submits is DKIM-signed before the spool commit.
            signer_for=signers.signer_for,
            cached_signer_for=signers.cached_signer_for,
            # Forwards off the platform: SRS, and ARC with the forwarding domain's RSA key.
            forwarder=forwarder_from_settings(
                settings,
                keyring,
                ArcKeys(
                    self._stores.metadata,
                    vault,
                    cache_seconds=settings.forwarding.key_cache_seconds,
                ).key_for,
            ),
            telemetry=self._telemetry.metrics,
        )
        self._listening = await self._frontend.start()
        # Never given up on: a failed order is retried after its backoff, while the
        # listeners go on serving the certificate they have.
        self._acme = None if renewer is None else renewal_supervisor(renewer, settings.acme)
        self._acme_task = None if self._acme is None else start_supervised(self._acme)

    async def listening(self) -> list[tuple[str, str, int]]:
        """(name, host, port) of each listener, ports as bound."""
        return self._listening

    async def telemetry_snapshot(self) -> TelemetrySnapshot:
        """This process's counters, for the API's /metrics and /api/v1/stats."""
        return self._telemetry.snapshot()

    async def set_auth_checkers(self, names: list[str]) -> None:
        """The auth checker pool from now on (the pool scaler); nothing when checks are off."""
        if self._auth_service is not None and names:
            self._auth_service.set_checkers([NamedActor(name) for name in names])
            _log.debug("auth checkers now: %s", ", ".join(names))

    async def auth_load(self) -> int:
        """Auth requests waiting or in a call now (the pool scaler's load)."""
        return 0 if self._auth_service is None else self._auth_service.outstanding

    async def drain(self, grace_seconds: float) -> dict[str, int]:
        """Stop accepting for good (`mairust cluster drain`): the listeners close, so a new
        connection is refused; transactions in progress get up to ``grace_seconds`` to
        finish, idle sessions are sent 421; the spool commits what it holds. When this
        returns, nothing acknowledged here is left only in this process: the node may leave.
        The actor stays (a restart would open the listeners again)."""
        await self._frontend.stop(grace_seconds)
        await self._spool.stop()
        _log.info(
            "drained: listeners closed, %d messages committed", self._spool.messages_committed
        )
        return {"messages_committed": self._spool.messages_committed}

    async def stop(self) -> None:
        """Stop accepting, finish sessions in progress, drain the spool."""
        if self._acme is not None and self._acme_task is not None:
            self._acme.stop()
            self._acme_task.cancel()
        await self._frontend.stop()
        await self._spool.stop()
        spool = self._spool
        _log.info(
            "spool: committed %d messages in %d group commits (mean %.1f, max %d per commit)",
            spool.messages_committed,
            spool.batches_committed,
            spool.avg_batch_size,
            spool.max_batch_size,
        )
        self._nudge.close()
        if self._outbound_nudge is not None:
            self._outbound_nudge.close()
        await self._hooks.aclose()  # its unrecorded calls, breaker reports, HTTP client
        self._stores.close()


FrontEndActor = ray.remote(num_cpus=0, max_restarts=-1)(FrontEndHost)
