"""Webhook actor: publishes the event log to the webhook outbox and delivers the outbox,
and runs the asynchronous hook jobs (the other durable outbox of outgoing calls).

Three loops, each under a Supervisor (a store that is down is an ordinary wait; any other
error restarts the loop with backoff; a loop that keeps failing exits the actor, and Ray
restarts it):

- the event drain hands events not yet published to the outbox
  (:func:`mairust.webhooks.events.publish_pending_events`), every ``poll_interval``
  seconds or at once while there is more, and nudges the delivery loop when it did;
- the delivery loop (:class:`mairust.webhooks.delivery.WebhookDeliveryLoop`) sends what is
  due through the one outgoing HTTP client, signed with the endpoint's secret from the
  secret vault (read in the delivery's own tenant);
- the hook job loop (:class:`mairust.hooks.jobs.HookJobLoop`) calls the plugins bound at
  ``post_receive`` for the jobs the pipeline made, through the hook runtime's transports,
  and applies their verdicts (``hooks.job_poll_interval``); a ``webhook`` plugin's call
  enqueues its delivery in the outbox and nudges the delivery loop.

Idle, the webhook loops make one small query per ``webhooks.poll_interval`` seconds, the
hook job loop two per ``hooks.job_poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import platform
from typing import Any

import ray

from actors.supervised import loop_report, start_supervised
from mairust.config import Settings
from mairust.errors import MairustError
from mairust.hooks.callbacks import CallbackTokens
from mairust.hooks.jobs import HookJobLoop, JobPolicy, callback_urls
from mairust.hooks.manifest import TransportKind
from mairust.hooks.webhook_transport import webhook_transport
from mairust.log_format import configure_logging
from mairust.model.scope import PLATFORM, TenantScope
from mairust.net.host_resolver import configured_resolver
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.services.hook_runtimes import platform_hook_runtime
from mairust.storage.factory import open_stores
from mairust.supervision import Backoff, Supervisor
from mairust.webhooks.delivery import DeliveryPolicy, WebhookDeliveryLoop, safe_client
from mairust.webhooks.events import publish_pending_events
from serve.plugin_transport import serve_transport

_log = logging.getLogger(__name__)

DRAIN_LOOP = "event publish loop"
DRAIN_BACKOFF = Backoff(give_up_after=8)
DRAIN_PAGE = 200


def webhook_identity(settings: Settings, kind: str = "webhooks") -> str:
    """A loop's name across restarts: node name + data dir (as the dispatcher)."""
    digest = hashlib.sha256(str(settings.data_dir).encode()).hexdigest()[:12]
    return f"{kind}@{platform.node() or 'localhost'}:{digest}"


class WebhookHost:
    """Hosts the event drain and the webhook delivery loop of one node."""

    # Ray runs an async __init__ on the actor's loop (again after a restart).
    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]
        configure_logging(settings.log_level, settings.log_format)
        self._stores = open_stores(settings.storage)
        keyring = load_keyring(settings)
        vault = SecretVault(self._stores.metadata, keyring)

        def secret_for(tenant_id: str | None, secret_id: str) -> str:
            # No tenant: a webhook plugin's delivery, signed with its platform secret.
            scope = PLATFORM if tenant_id is None else TenantScope(tenant_id)
            return vault.reveal(scope, secret_id).decode()

        resolver = configured_resolver(settings.dns)
        self._client = safe_client(settings.webhooks, resolver)
        self._delivery = WebhookDeliveryLoop(
            self._stores.metadata,
            self._client,
            secret_for,
            webhook_identity(settings),
            DeliveryPolicy.from_settings(settings.webhooks),
        )
        self._interval = settings.webhooks.poll_interval
        self.published = 0
        self._wake = asyncio.Event()
        self._drain = Supervisor(DRAIN_LOOP, self._run_drain, DRAIN_BACKOFF)
        self._deliver = self._delivery.supervisor()
        self._hooks = platform_hook_runtime(
            settings,
            self._stores.metadata,
            keyring,
            "hookjobs",
            {
                TransportKind.SERVE: serve_transport,
                # A webhook plugin's delivery goes out at once, not at the next poll.
                TransportKind.WEBHOOK: webhook_transport(
                    self._stores.metadata, self._delivery.nudge
                ),
            },
        )
        self._jobs = HookJobLoop(
            self._stores.metadata,
            self._stores.blobs,
            self._hooks,
            # The API checks the callbacks with tokens keyed the same way.
            CallbackTokens.from_digest_keys(keyring.token_digest_keys()),
            webhook_identity(settings, "hookjobs"),
            callback_urls(settings.hooks.callback_base_url, settings.api.host, settings.api.port),
            JobPolicy.from_settings(settings.hooks),
        )
        self._run_jobs = self._jobs.supervisor()
        self._tasks = [
            start_supervised(self._drain),
            start_supervised(self._deliver),
            start_supervised(self._run_jobs),
        ]

    async def _run_drain(self) -> None:
        metadata = self._stores.metadata
        while True:
            try:
                done = await asyncio.to_thread(
                    publish_pending_events, metadata, metadata, DRAIN_PAGE
                )
            except MairustError as error:  # the store is down: next round
                _log.info("event publishing waits: %s", error)
                done = 0
            else:
                self._drain.progress()
            if done:
                self.published += done
                self._delivery.nudge()
            if done < DRAIN_PAGE:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()

    async def publish_now(self) -> None:
        """Wake the drain (tests, and operators after an outage)."""
        self._wake.set()

    async def stats(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "delivery_rounds": self._delivery.rounds,
            "drain": loop_report(self._drain.state),
            "delivery": loop_report(self._deliver.state),
            "hook_job_rounds": self._jobs.rounds,
            "hook_jobs": loop_report(self._run_jobs.state),
        }

    async def stop(self) -> None:
        self._drain.stop()
        self._deliver.stop()
        self._delivery.stop()
        self._run_jobs.stop()
        self._jobs.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._hooks.aclose()  # the calls not yet recorded, its HTTP client
        await self._client.aclose()
        self._stores.close()


WebhookActor = ray.remote(num_cpus=0, max_restarts=-1)(WebhookHost)
