"""Held mail as the quarantine routes show it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mairust.api.schemas import MessageSummary
from mairust.services.quarantine import Held


class HeldMessage(MessageSummary):
    """A message held in Quarantine, and where a release puts it."""

    release_to: str = Field(description="The folder a release moves the message to.")

    @classmethod
    def from_held(cls, held: Held) -> HeldMessage:
        summary = MessageSummary.from_entry(held.entry)
        return cls(**summary.model_dump(), release_to=held.release_to)


class HeldPage(BaseModel):
    items: list[HeldMessage]
    next: str | None = Field(
        description="Cursor for the next (older) page, to pass as `before`; null at the end."
    )
