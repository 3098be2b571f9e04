"""The callback API's rule: a plugin that answered a ``post_receive`` job "pending" gives
its verdict later, with the job's token (no API token: the job's token is the credential).

The token must be the job's and unexpired (``mairust.hooks.callbacks``); the job must be
waiting for it. The verdict is read through the plugin's permissions, recorded, and (for
an enforce binding) applied to the message's entries, all in the transaction that marks
the job done, so a second callback with the same token finds the job done: Conflict.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from mairust.errors import Conflict, NotFound
from mairust.hooks.callbacks import CallbackTokens
from mairust.hooks.jobs import JobStore
from mairust.hooks.manifest import Manifest
from mairust.hooks.permissions import verdict_of
from mairust.hooks.wire import HookResponse
from mairust.model.hook_jobs import HookJob, HookJobState, JobEffect
from mairust.model.ids import new_id
from mairust.model.plugins import HookCall

_log = logging.getLogger(__name__)


class HookCallbackService:
    def __init__(self, store: JobStore, tokens: CallbackTokens) -> None:
        self._store = store
        self._tokens = tokens

    @property
    def tokens(self) -> CallbackTokens:
        """The tokens this service accepts (the job loop issues them with the same keys)."""
        return self._tokens

    def answer(self, job_id: str, token: str | None, response: HookResponse) -> HookJob:
        """Settle ``job_id`` with ``response``. Unauthenticated (missing, malformed,
        expired token), Forbidden (a token not issued for this job), Conflict (the job is
        not waiting: answered already, or never asked to call back), InvalidInput (a
        callback that is itself "pending")."""
        started = time.monotonic()
        self._tokens.check(job_id, token)
        job = self._store.get_hook_job(job_id)
        if job is None:  # a token we issued names it: it was deleted since
            raise NotFound(f"no hook job {job_id}")
        if job.state is not HookJobState.WAITING:
            raise Conflict(f"hook job {job_id} is {job.state.value}: it takes no callback")
        if response.pending:
            raise Conflict("a callback gives the verdict: it cannot be pending again")
        plugin = self._store.get_plugin(job.plugin)
        if plugin is None:
            raise Conflict(f"plugin {job.plugin} is not installed any more")
        permissions = frozenset(Manifest.model_validate(plugin.manifest).permissions)
        judged = verdict_of(response, plugin.name, permissions)
        effect = JobEffect.of(judged.verdict, judged.notes)
        if not self._store.finish_hook_job(job_id, None, effect):
            raise Conflict(f"hook job {job_id} was answered already")
        latency = (time.monotonic() - started) * 1000.0
        self._store.record_hook_calls(
            [
                HookCall(
                    new_id(),
                    datetime.now(UTC),
                    job.point,
                    job.plugin,
                    job.mode,
                    "callback",
                    effect.verdict,
                    latency,
                    "",
                    judged.dropped,
                )
            ]
        )
        _log.info("hook job %s answered by callback: %s", job_id, effect.verdict)
        done = self._store.get_hook_job(job_id)
        assert done is not None
        return done
