"""Run a leased batch of queue rows through the stages and settle each row in the store.

Each stage takes the whole batch at once: one blob read and one parse per message, one
transaction for the batch's mailbox entries, one bulk search write, and one transaction
that settles every row (done, deferred, failed). A stage that cannot reach a store
defers its rows; a bug in a stage is logged with its traceback and defers them too, so
mail is never dropped by an exception. Every effect is idempotent per (message,
recipient), so a row that runs twice (lease expired, worker lost) leaves one entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust import events
from mairust.config import QueueSettings
from mairust.errors import StorageUnavailable
from mairust.events import RecordType
from mairust.model.address import domain_of
from mairust.model.queue import QueueItem
from mairust.pipeline.events import tenant_events
from mairust.pipeline.hook_loop import DeliveryHooks
from mairust.pipeline.stages import DEFAULT_STAGES, build_stages
from mairust.pipeline.stages.base import Stage
from mairust.pipeline.work import (
    BatchContext,
    Deferred,
    Delivered,
    Discarded,
    Failed,
    MessageWork,
    Outcome,
    RecipientWork,
)
from mairust.storage.stores import Stores
from mairust.telemetry import PlatformMetrics

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchReport:
    delivered: int = 0
    deferred: int = 0
    failed: int = 0


class RetryPolicy:
    """Exponential backoff from ``retry_base_seconds``, capped, up to ``max_attempts``."""

    def __init__(self, settings: QueueSettings) -> None:
        self._settings = settings

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` tries; None when it is time to give up."""
        if attempts >= self._settings.max_attempts:
            return None
        delay = min(
            self._settings.retry_base_seconds * 2 ** max(attempts - 1, 0),
            self._settings.retry_max_seconds,
        )
        return now + timedelta(seconds=delay)


class PipelineRunner:
    """Processes batches of queue rows with the configured stages."""

    def __init__(
        self,
        stores: Stores,
        queue_settings: QueueSettings,
        stage_names: tuple[str, ...] = DEFAULT_STAGES,
        hooks: DeliveryHooks | None = None,
        telemetry: PlatformMetrics | None = None,
    ) -> None:
        """``hooks``: the pre_delivery point (None: no plugin is asked in the pipeline);
        ``telemetry`` times each stage and counts the settled rows."""
        self._telemetry = telemetry
        self._stores = stores
        self._stages: tuple[Stage, ...] = build_stages(stage_names, hooks)
        self._retry = RetryPolicy(queue_settings)

    def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        """Run every row through the stages and record its outcome under lease ``owner``."""
        batch = BatchContext(stores=self._stores)
        messages: dict[str, MessageWork] = {}
        works = [
            RecipientWork(
                item=item,
                message=messages.setdefault(item.message.id, MessageWork(ref=item.message)),
            )
            for item in items
        ]
        outcomes: dict[int, Outcome] = {}
        on_their_way = works
        for stage in self._stages:
            if not on_their_way:
                break
            started = time.perf_counter()
            outcomes.update(self._run_stage(stage, on_their_way, batch))
            if self._telemetry is not None:
                self._telemetry.stage_ran(
                    stage.name, len(on_their_way), time.perf_counter() - started
                )
            on_their_way = [work for work in on_their_way if work.item.id not in outcomes]
        for work in on_their_way:
            outcomes[work.item.id] = Delivered()
        return self._settle(works, outcomes, owner)

    @staticmethod
    def _run_stage(
        stage: Stage, works: list[RecipientWork], batch: BatchContext
    ) -> dict[int, Outcome]:
        try:
            return stage.run(works, batch)
        except StorageUnavailable as exc:
            reason = f"4.3.0 {stage.name}: {exc}"
        except Exception as exc:  # a stage bug must not lose mail: log it and retry later
            _log.exception("stage %s failed on a batch of %d rows", stage.name, len(works))
            reason = f"4.3.0 {stage.name}: internal error {type(exc).__name__}"
        return {work.item.id: Deferred(reason) for work in works}

    def _settle(
        self, works: list[RecipientWork], outcomes: dict[int, Outcome], owner: str
    ) -> BatchReport:
        now = datetime.now(UTC)
        done: list[int] = []
        deferred: list[tuple[int, str, datetime]] = []
        failed: list[tuple[int, str]] = []
        expired: set[int] = set()
        for work in works:
            item = work.item
            outcome = outcomes[item.id]
            if isinstance(outcome, Deferred):
                retry_at = self._retry.retry_at(item.attempts, now)
                if retry_at is not None:
                    deferred.append((item.id, outcome.reason, retry_at))
                    continue
                outcome = Failed(f"gave up after {item.attempts} attempts: {outcome.reason}")
                outcomes[item.id] = outcome
                expired.add(item.id)
            if isinstance(outcome, Failed):
                failed.append((item.id, outcome.reason))
            else:
                done.append(item.id)
        retry_times = {item_id: at for item_id, _, at in deferred}
        kept = tenant_events(works, outcomes, retry_times, expired, now, self._tenant_of)
        # One transaction for the whole batch, its events in it; if it fails the leases
        # expire and the rows run again, which the idempotent stages allow.
        self._stores.metadata.settle(
            owner, done=done, deferred=deferred, failed=failed, events=kept
        )
        self._record_events(works, outcomes, retry_times, expired)
        if self._telemetry is not None:
            self._telemetry.rows_settled(len(done), len(deferred), len(failed))
        return BatchReport(delivered=len(done), deferred=len(deferred), failed=len(failed))

    def _tenant_of(self, recipient: str) -> str | None:
        """The tenant of a recipient the route stage never reached (a failure before it)."""
        try:
            domain = self._stores.metadata.get_domain(domain_of(recipient))
        except StorageUnavailable:
            return None
        return domain.tenant_id if domain is not None else None

    @staticmethod
    def _record_events(
        works: list[RecipientWork],
        outcomes: dict[int, Outcome],
        retry_at: dict[int, datetime],
        expired: set[int],
    ) -> None:
        for work in works:
            item = work.item
            outcome = outcomes[item.id]
            fields = {"message_id": item.message.id, "recipient": item.recipient}
            if isinstance(outcome, Delivered):
                entry_id = work.entries[0].id if work.entries else None
                if len(work.entries) > 1:  # an alias: every copy is named
                    fields["entry_ids"] = ",".join(entry.id for entry in work.entries)
                events.record(RecordType.DELIVERY, **fields, entry_id=entry_id)
            elif isinstance(outcome, Discarded):
                events.record(RecordType.DISCARD, **fields, reason=outcome.reason, by=outcome.by)
            elif isinstance(outcome, Deferred):
                events.record(
                    RecordType.TRANSIENT_FAILURE,
                    **fields,
                    reason=outcome.reason,
                    retry_at=retry_at[item.id].isoformat(),
                )
            else:
                if item.id in expired:
                    events.record(RecordType.EXPIRATION, **fields, reason=outcome.reason)
                events.record(RecordType.BOUNCE, **fields, reason=outcome.reason)
