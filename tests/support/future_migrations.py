"""A copy of our migrations with made-up revisions after the head: a test migrates a
database with it to put the schema where a newer release would, then runs this code on it
(the rolling-upgrade rule of mairust/storage/schema_revisions.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mairust.storage.sql_migrations import MIGRATIONS_DIR, head_revision


@dataclass(frozen=True, slots=True)
class FutureStep:
    """One made-up revision: an expand step adds a table of its own; a contract step
    drops the table of the step before it (``oldest_code`` and ``reason`` as declared)."""

    revision: str
    phase: str | None = "expand"
    oldest_code: str | None = None
    reason: str | None = "drops the table the step before added"


def future_migrations(into: Path, *steps: FutureStep) -> Path:
    """Our migrations plus ``steps`` after the head, in ``into``; returns ``into``."""
    shutil.copytree(MIGRATIONS_DIR, into, ignore=shutil.ignore_patterns("__pycache__"))
    down = head_revision()
    for step in steps:
        (into / "versions" / f"{step.revision}_future.py").write_text(
            _module(step, down), encoding="utf-8"
        )
        down = step.revision
    return into


def _module(step: FutureStep, down: str) -> str:
    declared = f"phase = {step.phase!r}\n"
    if step.phase == "contract":
        body = f'    op.drop_table("future_{down}")\n'
        declared += f"reason = {step.reason!r}\noldest_code = {step.oldest_code!r}\n"
    else:
        body = (
            f'    op.create_table("future_{step.revision}", '
            f'sa.Column("id", sa.Text, primary_key=True))\n'
        )
    return (
        f'"""Made up by tests.support.future_migrations."""\n\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {step.revision!r}\ndown_revision = {down!r}\n"
        "branch_labels = None\ndepends_on = None\n"
        f"{declared}\n\ndef upgrade() -> None:\n{body}\n\ndef downgrade() -> None:\n    pass\n"
    )
