"""Run a leased batch of queue rows through the stages and settle each row in the store.

One blob read and one parse per message, one bulk search write per batch, one ack
per batch. A stage that cannot reach a store defers the row; a bug in a stage is
logged with its traceback and defers the row too, so mail is never dropped by an
exception. Every effect is idempotent per (message, recipient), so a row that runs
twice (lease expired, worker lost) leaves one mailbox entry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mairust import events
from mairust.config import QueueSettings
from mairust.errors import MairustError, StorageUnavailable
from mairust.events import RecordType
from mairust.model.queue import QueueItem
from mairust.pipeline.stages import DEFAULT_STAGES, build_stages
from mairust.pipeline.stages.base import Stage
from mairust.pipeline.work import (
    BatchContext,
    Deferred,
    Delivered,
    Failed,
    MessageWork,
    Outcome,
    RecipientWork,
)
from mairust.storage.factory import Stores

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
    ) -> None:
        self._stores = stores
        self._stages: tuple[Stage, ...] = build_stages(stage_names)
        self._retry = RetryPolicy(queue_settings)

    def process(self, items: Sequence[QueueItem], owner: str) -> BatchReport:
        """Run every row through the stages and record its outcome under lease ``owner``."""
        batch = BatchContext(stores=self._stores)
        messages: dict[str, MessageWork] = {}
        outcomes: dict[int, Outcome] = {}
        works: list[RecipientWork] = []
        for item in items:
            message = messages.setdefault(item.message.id, MessageWork(ref=item.message))
            work = RecipientWork(item=item, message=message)
            works.append(work)
            outcome = self._run_stages(work, batch)
            if outcome is not None:
                outcomes[item.id] = outcome
        outcomes.update(self._flush_documents(batch))
        for work in works:
            outcomes.setdefault(work.item.id, Delivered())
        return self._settle(works, outcomes, owner)

    def _run_stages(self, work: RecipientWork, batch: BatchContext) -> Outcome | None:
        for stage in self._stages:
            try:
                outcome = stage.run(work, batch)
            except StorageUnavailable as exc:
                return Deferred(f"4.3.0 {stage.name}: {exc}")
            except Exception as exc:  # a stage bug must not lose mail: log it and retry later
                _log.exception("stage %s failed on queue row %s", stage.name, work.item.id)
                return Deferred(f"4.3.0 {stage.name}: internal error {type(exc).__name__}")
            if outcome is not None:
                return outcome
        return None

    def _flush_documents(self, batch: BatchContext) -> dict[int, Outcome]:
        if not batch.pending_documents:
            return {}
        try:
            self._stores.search.index([document for _, document in batch.pending_documents])
            return {}
        except (MairustError, OSError) as exc:
            error: Exception = exc
        # Delivery does not wait for search: the entries are stored, so they go to the
        # durable backlog and the indexer writes them when search is back.
        entry_ids = [document.entry_id for _, document in batch.pending_documents]
        try:
            self._stores.metadata.add_to_search_backlog(entry_ids)
        except MairustError as backlog_error:
            _log.warning(
                "search and its backlog unavailable, deferring %d rows: %s / %s",
                len(entry_ids),
                error,
                backlog_error,
            )
            return {
                work.item.id: Deferred(f"4.3.0 index: {error}")
                for work, _ in batch.pending_documents
            }
        _log.warning(
            "search unavailable (%s): %d entries wait in the backlog", error, len(entry_ids)
        )
        return {}

    def _settle(
        self, works: list[RecipientWork], outcomes: dict[int, Outcome], owner: str
    ) -> BatchReport:
        metadata = self._stores.metadata
        now = datetime.now(UTC)
        delivered = [w for w in works if isinstance(outcomes[w.item.id], Delivered)]
        metadata.ack([w.item.id for w in delivered], owner)
        for work in delivered:
            events.record(
                RecordType.DELIVERY,
                message_id=work.item.message.id,
                recipient=work.item.recipient,
                entry_id=work.entry.id if work.entry else None,
            )
        deferred = failed = 0
        for work in works:
            outcome = outcomes[work.item.id]
            item = work.item
            if isinstance(outcome, Deferred):
                retry_at = self._retry.retry_at(item.attempts, now)
                if retry_at is not None:
                    metadata.defer(item.id, owner, outcome.reason, retry_at)
                    events.record(
                        RecordType.TRANSIENT_FAILURE,
                        message_id=item.message.id,
                        recipient=item.recipient,
                        reason=outcome.reason,
                        retry_at=retry_at.isoformat(),
                    )
                    deferred += 1
                    continue
                outcome = Failed(f"gave up after {item.attempts} attempts: {outcome.reason}")
                events.record(
                    RecordType.EXPIRATION,
                    message_id=item.message.id,
                    recipient=item.recipient,
                    reason=outcome.reason,
                )
            if isinstance(outcome, Failed):
                metadata.fail(item.id, owner, outcome.reason)
                events.record(
                    RecordType.BOUNCE,
                    message_id=item.message.id,
                    recipient=item.recipient,
                    reason=outcome.reason,
                )
                failed += 1
        return BatchReport(delivered=len(delivered), deferred=deferred, failed=failed)
