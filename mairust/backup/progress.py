"""How backup and restore report their progress (the CLI draws bars; tests pass nothing)."""

from __future__ import annotations

from typing import Protocol


class ProgressReport(Protocol):
    """Told when a stage starts (with its total, if known) and as its work advances."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...


class NoProgress:
    """Reports nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """Nothing to draw."""

    def advance(self, count: int) -> None:
        """Nothing to draw."""
