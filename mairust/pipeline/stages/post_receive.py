"""Stage ``post_receive``: the batch's asynchronous hook jobs, made durable in one call.

After the entries are stored (and indexed), each message gets one job per ``post_receive``
binding (enforce or shadow) whose tenant / domain filters match one of its delivered
copies, written in one store call for the whole batch. The jobs are unique per (message,
plugin, point), so a row that runs twice makes no second job; a store outage raises, and
the runner defers the batch's rows like any other stage's. The job loop
(:mod:`mairust.hooks.jobs`) calls the plugins later; mail never waits for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.hooks.points import HookPoint
from mairust.model.address import domain_of
from mairust.model.hook_jobs import JobTarget
from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import BatchContext, RecipientWork


class PostReceiveStage:
    name: ClassVar[str] = "post_receive"
    description: ClassVar[str] = (
        "Create the message's post_receive hook jobs (one per bound plugin, once), which "
        "the hook job loop runs after the 250."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        if any(not work.entries for work in works):
            raise RuntimeError("post_receive stage needs the store stage before it")
        targets = {
            JobTarget(work.message.ref.id, entry.tenant_id, domain_of(work.item.recipient))
            for work in works
            for entry in work.entries
        }
        batch.stores.metadata.add_hook_jobs(HookPoint.POST_RECEIVE.value, sorted(targets, key=_key))
        return {}


def _key(target: JobTarget) -> tuple[str, str, str]:
    return (target.message_id, target.tenant_id, target.domain)
