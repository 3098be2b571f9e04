"""The hook job loop: lease due ``post_receive`` jobs, call each plugin, settle each job.

A plain core class (no Ray): an actor hosts it under a
:class:`~mairust.supervision.Supervisor` (:meth:`HookJobLoop.supervisor`). All state is in
the store's ``hook_jobs`` (invariant 2): each round first fails the jobs whose callback
never came in time, then leases up to ``batch_size`` due jobs and, for each, reads the
message (envelope from the store, bytes from the blob store only when a scope needs
them), builds the request for the plugin's scopes with the job's callback URL and token,
calls the plugin by its transport (the :class:`~mairust.hooks.runtime.HookRuntime`'s) and
settles the job:

- an answer: done, its verdict read through the plugin's permissions; the effect (tags,
  folder; ``quarantine`` moves to the quarantine folder) is applied to the message's
  entries in the same transaction for an ``enforce`` binding, only recorded for ``shadow``;
- ``pending``: waiting for the callback until the token expires;
- an error or a timeout: retried after ``retry_base * 2^(attempt-1)`` seconds (capped) until
  ``max_attempts``, then failed.

Every call is recorded in ``hook_calls`` (batched, as the runtime records the chain's). A
loop that dies leaves leases that expire (another loop, or this one restarted, leases the
job again); a restarted loop hands back its predecessors' leases at once. A job may so be
called twice, never applied twice: settling is guarded by the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mairust.config import HooksSettings
from mairust.errors import StorageUnavailable
from mairust.hooks.callbacks import CallbackTokens
from mairust.hooks.chain import Binding, Outcome
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import verdict_of
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.runtime import HookRuntime
from mairust.leased_loop import LeasedLoop
from mairust.model.hook_jobs import HookJob, JobEffect
from mairust.model.ids import new_id
from mairust.model.plugins import HookCall
from mairust.storage.protocols import BlobStore, HookJobStore, PluginStore

_log = logging.getLogger(__name__)

LOOP_NAME = "hook job loop"
PENDING = "pending"  # the outcome recorded for a call answered "later"
_MAX_ERROR_CHARS = 500


class JobStore(HookJobStore, PluginStore, Protocol):
    """What the loop needs of the metadata store."""


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """How jobs are leased, called and retried (``[hooks]`` job_* settings)."""

    max_attempts: int = 5
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 60.0
    batch_size: int = 16
    poll_interval: float = 1.0
    callback_seconds: float = 3600.0
    # A call's time limit when the plugin's manifest sets none shorter.
    call_seconds: float = 5.0

    @classmethod
    def from_settings(cls, hooks: HooksSettings) -> JobPolicy:
        return cls(
            max_attempts=hooks.job_max_attempts,
            retry_base_seconds=hooks.job_retry_base_seconds,
            retry_max_seconds=hooks.job_retry_max_seconds,
            lease_seconds=hooks.job_lease_seconds,
            batch_size=hooks.job_batch_size,
            poll_interval=hooks.job_poll_interval,
            callback_seconds=hooks.callback_token_seconds,
            call_seconds=hooks.deadline_seconds,
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones."""
        exponent = min(max(attempts - 1, 0), 32)
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2**exponent))


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one round did (for logs, stats and tests)."""

    done: int = 0
    waiting: int = 0
    deferred: int = 0
    failed: int = 0
    expired: int = 0

    @property
    def leased(self) -> int:
        return self.done + self.waiting + self.deferred + self.failed


class HookJobLoop(LeasedLoop):
    """Runs the due jobs; ``identity`` names this loop across restarts (node, data dir);
    ``callback_url`` gives a job's callback URL from its id."""

    loop_name = LOOP_NAME
    rows = "jobs"

    def __init__(
        self,
        store: JobStore,
        blobs: BlobStore,
        runtime: HookRuntime,
        tokens: CallbackTokens,
        identity: str,
        callback_url: Callable[[str], str],
        policy: JobPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(identity)
        self._store = store
        self._blobs = blobs
        self._runtime = runtime
        self._tokens = tokens
        self._callback_url = callback_url
        self.policy = policy or JobPolicy()
        self._clock = clock

    @property
    def runtime(self) -> HookRuntime:
        """The runtime the plugins are called through (its aclose records the rest)."""
        return self._runtime

    @property
    def batch_size(self) -> int:
        return self.policy.batch_size

    @property
    def poll_interval(self) -> float:
        return self.policy.poll_interval

    def release_leases(self, owner_prefix: str, keep_owner: str) -> int:
        return self._store.release_hook_job_leases(owner_prefix, keep_owner)

    async def leased_round(self) -> int:
        return (await self.run_due()).leased

    async def run_due(self) -> RoundResult:
        """One round: expire the callbacks that never came, lease a batch, run each."""
        self.rounds += 1
        expired = await asyncio.to_thread(self._store.expire_hook_callbacks, datetime.now(UTC))
        if expired:
            self._runtime.record_calls(
                [
                    _call_of(job, Outcome.TIMEOUT.value, "continue", 0.0, job.last_error or "")
                    for job in expired
                ]
            )
            _log.warning("%d hook jobs got no callback in time: failed", len(expired))
        batch = await asyncio.to_thread(
            self._store.lease_hook_jobs,
            self.owner,
            self.policy.batch_size,
            self.policy.lease_seconds,
        )
        kinds = await asyncio.gather(*(self._one(job) for job in batch))
        return RoundResult(
            done=kinds.count("done"),
            waiting=kinds.count("waiting"),
            deferred=kinds.count("deferred"),
            failed=kinds.count("failed"),
            expired=len(expired),
        )

    async def _one(self, job: HookJob) -> str:
        try:
            return await self._attempt(job)
        except StorageUnavailable:
            raise
        except Exception as error:  # one job's bug must not hold up the rest
            _log.exception("hook job %s: unexpected error", job.id)
            return await asyncio.to_thread(self._retry, job, f"internal error: {error!r}")

    async def _attempt(self, job: HookJob) -> str:
        if job.envelope is None:
            return await asyncio.to_thread(self._fail, job, "the message is gone")
        plugin = await asyncio.to_thread(self._store.get_plugin, job.plugin)
        if plugin is None:
            return await asyncio.to_thread(self._fail, job, f"plugin {job.plugin} is not installed")
        if not plugin.enabled:
            return await asyncio.to_thread(self._retry, job, f"plugin {job.plugin} is disabled")
        point = HookPoint(job.point)
        binding = await asyncio.to_thread(self._runtime.job_binding, point, plugin, job.mode)
        message = None
        if binding.scopes - {DataScope.ENVELOPE}:
            message = await asyncio.to_thread(self._blobs.get, job.blob_key)
        request = build_request(
            point, binding.scopes, job.envelope, message, message_id=job.message_id
        )
        token, expires = self._tokens.issue(job.id, self.policy.callback_seconds)
        request.callback_url = self._callback_url(job.id)
        request.callback_token = token
        started = self._clock()
        try:
            async with asyncio.timeout(_timeout(binding, self.policy)):
                response = await self._runtime.call(binding, request)
        except TimeoutError:
            latency = (self._clock() - started) * 1000.0
            self._runtime.record_calls(
                [_call_of(job, Outcome.TIMEOUT.value, "continue", latency, "timeout")]
            )
            return await asyncio.to_thread(self._retry, job, "the plugin did not answer in time")
        except Exception as error:  # a plugin's failure, whatever it is, is retried
            latency = (self._clock() - started) * 1000.0
            text = repr(error)[:_MAX_ERROR_CHARS]
            self._runtime.record_calls(
                [_call_of(job, Outcome.ERROR.value, "continue", latency, text)]
            )
            return await asyncio.to_thread(self._retry, job, text)
        latency = (self._clock() - started) * 1000.0
        if response.pending:
            self._runtime.record_calls([_call_of(job, PENDING, "continue", latency, "")])
            until = datetime.fromtimestamp(expires, UTC)
            kept = await asyncio.to_thread(
                self._store.await_hook_callback, job.id, self.owner, until
            )
            return self._kept(job, kept, "waiting")
        judged = verdict_of(response, plugin.name, binding.permissions)
        if judged.dropped:
            _log.warning(
                "plugin %s answered beyond its permissions, dropped: %s",
                plugin.name,
                "; ".join(judged.dropped),
            )
        effect = JobEffect.of(judged.verdict, judged.notes)
        self._runtime.record_calls(
            [_call_of(job, Outcome.ANSWERED.value, effect.verdict, latency, "", judged.dropped)]
        )
        kept = await asyncio.to_thread(self._store.finish_hook_job, job.id, self.owner, effect)
        return self._kept(job, kept, "done")

    def _retry(self, job: HookJob, error: str) -> str:
        if job.attempts >= self.policy.max_attempts:
            return self._fail(job, f"gave up after {job.attempts} attempts: {error}")
        retry_at = datetime.now(UTC) + timedelta(seconds=self.policy.retry_delay(job.attempts))
        kept = self._store.defer_hook_job(job.id, self.owner, error[:_MAX_ERROR_CHARS], retry_at)
        return self._kept(job, kept, "deferred")

    def _fail(self, job: HookJob, error: str) -> str:
        _log.warning("hook job %s (%s, %s) failed: %s", job.id, job.plugin, job.message_id, error)
        kept = self._store.fail_hook_job(job.id, self.owner, error[:_MAX_ERROR_CHARS])
        return self._kept(job, kept, "failed")

    @staticmethod
    def _kept(job: HookJob, kept: bool, kind: str) -> str:
        if not kept:
            _log.warning("hook job %s: lease lost before it was settled (%s)", job.id, kind)
            return "lost"
        return kind


def _timeout(binding: Binding, policy: JobPolicy) -> float:
    own = binding.timeout_seconds
    return policy.call_seconds if own is None else min(own, policy.call_seconds)


def _call_of(
    job: HookJob,
    outcome: str,
    verdict: str,
    latency_ms: float,
    error: str,
    dropped: tuple[str, ...] = (),
) -> HookCall:
    return HookCall(
        new_id(),
        datetime.now(UTC),
        job.point,
        job.plugin,
        job.mode,
        outcome,
        verdict,
        latency_ms,
        error,
        dropped,
    )


def callback_urls(base_url: str, api_host: str, api_port: int) -> Callable[[str], str]:
    """A job's callback URL: under ``hooks.callback_base_url``, or the API's own address."""
    if not base_url:
        host = "127.0.0.1" if api_host in ("", "0.0.0.0") else api_host
        base_url = f"http://{f'[{host}]' if ':' in host else host}:{api_port}"
    base = base_url.rstrip("/")
    return lambda job_id: f"{base}/api/v1/callbacks/{job_id}"
