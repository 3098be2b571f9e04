"""The shape of a stage, and the per-row loop most stages share.

A stage gets every row of the batch that is still on its way at once, so a stage that
writes (``store``, ``index``) makes one bulk call per batch instead of one per row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from mairust.errors import StorageUnavailable
from mairust.pipeline.work import BatchContext, Deferred, Outcome, RecipientWork

_log = logging.getLogger(__name__)

# The rows whose trip ended in a stage, by queue row id; rows not named go on.
Ended = dict[int, Outcome]


class Stage(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        """Do this stage's part for ``works``; return the outcome of every row that ends
        here. An exception ends every row of ``works`` (the runner defers them)."""
        ...


def each_row(
    stage: str,
    works: Sequence[RecipientWork],
    step: Callable[[RecipientWork], Outcome | None],
) -> Ended:
    """Run ``step`` on each row on its own, so one row's trouble ends only that row: a store
    that cannot be reached, or a bug (logged with its traceback), defers it."""
    ended: Ended = {}
    for work in works:
        try:
            outcome = step(work)
        except StorageUnavailable as exc:
            outcome = Deferred(f"4.3.0 {stage}: {exc}")
        except Exception as exc:  # a stage bug must not lose mail: log it and retry later
            _log.exception("stage %s failed on queue row %s", stage, work.item.id)
            outcome = Deferred(f"4.3.0 {stage}: internal error {type(exc).__name__}")
        if outcome is not None:
            ended[work.item.id] = outcome
    return ended
