"""Stage ``parse``: load the message's bytes once and parse its headers and parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.errors import NotFound
from mairust.model.parsing import parse_message
from mairust.pipeline.stages.base import Ended, each_row
from mairust.pipeline.work import BatchContext, Failed, Outcome, RecipientWork


class ParseStage:
    name: ClassVar[str] = "parse"
    description: ClassVar[str] = (
        "Load the body from the blob store and parse it (once per message)."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        def parse(work: RecipientWork) -> Outcome | None:
            message = work.message
            if message.parsed is None:
                try:
                    message.raw = batch.stores.blobs.get(message.ref.blob_key)
                except NotFound:
                    # The spool wrote the blob before the row: a missing blob is data loss,
                    # not a retry.
                    return Failed(f"blob {message.ref.blob_key} is missing")
                message.parsed = parse_message(message.raw)
            return None

        return each_row(self.name, works, parse)
