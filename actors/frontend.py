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
from mairust.auth.policy import AuthPolicy
from mairust.config import Settings
from mairust.model.message import MessageRef
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.smtp.handler import InboundAuth
from mairust.spool import Spool
from mairust.storage.factory import open_stores

_log = logging.getLogger(__name__)


class CoalescedNudge:
    """A CommitListener that wakes the dispatcher, folding bursts into one call."""

    def __init__(self, dispatcher: Any) -> None:
        self._dispatcher = dispatcher
        self._pending = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._forward())

    def committed(self, refs: Sequence[MessageRef]) -> None:
        self._pending.set()

    async def _forward(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            try:
                await self._dispatcher.nudge.remote()
            except ray.exceptions.RayActorError:
                # The dispatcher restarts and polls the queue itself; the nudge is only a hint.
                _log.warning("dispatcher unreachable; it will find the rows when it polls")
                await asyncio.sleep(1.0)

    def close(self) -> None:
        self._task.cancel()


class FrontEndHost:
    """One per node: SMTP (inbound) and submission listeners sharing one spool."""

    # Ray runs an async __init__ on the actor's event loop, and again after a restart, so
    # the listeners come back with the actor.
    async def __init__(  # type: ignore[misc]
        self, settings: Settings, dispatcher: Any, auth_checkers: list[Any]
    ) -> None:
        logging.basicConfig(level=settings.log_level)
        # aiosmtpd logs every SMTP command at INFO: far too much at volume.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        # Blob writes and group commits run in threads; the default pool (cores + 4) starves
        # under many concurrent sessions.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=32, thread_name_prefix="spool")
        )
        self._stores = open_stores(settings.storage)
        self._nudge = CoalescedNudge(dispatcher)
        self._spool = Spool(
            self._stores.metadata,
            self._stores.blobs,
            max_batch=settings.spool.max_batch,
            listener=self._nudge,
        )
        await self._spool.start()
        auth = None
        if settings.auth.enabled and auth_checkers:
            auth = InboundAuth(
                service=RayAuthService(auth_checkers),
                policy=AuthPolicy(settings.auth),
                authserv_id=settings.auth.authserv_id or settings.smtp.hostname,
            )
        self._frontend = SmtpFrontEnd(settings, self._stores.metadata, self._spool, auth=auth)
        self._listening = await self._frontend.start()

    async def listening(self) -> list[tuple[str, str, int]]:
        """(name, host, port) of each listener, ports as bound."""
        return self._listening

    async def stop(self) -> None:
        """Stop accepting, finish sessions in progress, drain the spool."""
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
        self._stores.close()


FrontEndActor = ray.remote(num_cpus=0, max_restarts=-1)(FrontEndHost)
