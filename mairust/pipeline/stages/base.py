"""The shape of a stage: a name, a description and ``run``."""

from __future__ import annotations

from typing import ClassVar, Protocol

from mairust.pipeline.work import BatchContext, Outcome, RecipientWork


class Stage(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def run(self, work: RecipientWork, batch: BatchContext) -> Outcome | None:
        """Do this stage's part; return an outcome to end the row's trip, None to go on."""
        ...
