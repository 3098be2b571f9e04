"""Which code may run on which schema: the phase of each migration, and the rule for a
database whose schema is newer than the code (rolling upgrades, docs/scale-out/upgrades.md).

Every migration module declares ``phase = "expand"`` (the code of the revision before it
still runs on the schema it leaves) or ``phase = "contract"`` with ``reason`` (what it
removes and why that is safe) and ``oldest_code`` (the oldest revision whose code still
runs on the schema it leaves). A process that migrates records its whole chain in the
``schema_revisions`` table, each revision with the oldest code revision that may run on
that schema (the latest ``oldest_code`` of the contract steps up to it). A process whose
code is older than the database cannot load the newer migrations, but it can read that
table: it runs if its head is at or after the recorded oldest revision, and refuses with
a message that says why if not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from mairust.errors import MairustError
from mairust.storage.sql_schema import schema_revisions

EXPAND = "expand"
CONTRACT = "contract"


class SchemaTooNew(MairustError):
    """The database's schema is newer than this code and this code may not run on it."""


@dataclass(frozen=True, slots=True)
class RevisionPhase:
    """One migration as recorded in ``schema_revisions``."""

    revision: str
    down_revision: str | None
    phase: str
    # The oldest revision whose code may run on the schema this revision leaves.
    oldest_code: str
    reason: str | None = None


class Relation(StrEnum):
    """Where the database's revision stands against this code's head."""

    EMPTY = "empty"  # nothing migrated yet
    SAME = "same"
    BEHIND = "behind"  # this code upgrades it
    AHEAD = "ahead"  # newer code migrated it; recorded in schema_revisions
    UNKNOWN = "unknown"  # a revision this code does not know and no record of it


@dataclass(frozen=True, slots=True)
class SchemaVerdict:
    """Whether this code may run on the database, with the words to say why."""

    database: str | None
    code_head: str
    relation: Relation
    may_run: bool
    # The oldest code revision that runs on the schema (after this code's upgrade, when
    # the database is behind); None when the database's record cannot tell.
    oldest_code: str | None
    explanation: str


def declared_phases(scripts: ScriptDirectory) -> list[RevisionPhase]:
    """Every revision from the first to the head, in order, as its module declares it;
    ValueError for a module without a valid phase, or a history that is not one line."""
    chain = list(reversed(list(scripts.walk_revisions("base", "heads"))))
    positions: dict[str, int] = {}
    floor: str | None = None
    phases = []
    for position, script in enumerate(chain):
        revision, down = script.revision, script.down_revision
        if down is not None and not isinstance(down, str):
            raise ValueError(f"migration {revision} merges branches: keep the history one line")
        positions[revision] = position
        module = script.module
        phase = getattr(module, "phase", None)
        reason = None
        if phase == CONTRACT:
            reason = getattr(module, "reason", None)
            oldest = getattr(module, "oldest_code", None)
            if not reason or not isinstance(oldest, str) or oldest not in positions:
                raise ValueError(
                    f"contract migration {revision} must say why (reason = ...) and name "
                    f"oldest_code, a revision at or before it whose code runs on its schema"
                )
            if floor is None or positions[oldest] > positions[floor]:
                floor = oldest
        elif phase != EXPAND:
            raise ValueError(
                f'migration {revision} must declare phase = "expand" or "contract", got {phase!r}'
            )
        phases.append(RevisionPhase(revision, down, phase, floor or chain[0].revision, reason))
    return phases


def record_phases(conn: Connection, phases: list[RevisionPhase]) -> None:
    """Write the phases of this code's chain to ``schema_revisions`` (only what differs)."""
    stored = {row.revision: _phase_of(row) for row in conn.execute(sa.select(schema_revisions))}
    for phase in phases:
        if stored.get(phase.revision) == phase:
            continue
        if phase.revision in stored:
            conn.execute(
                schema_revisions.delete().where(schema_revisions.c.revision == phase.revision)
            )
        conn.execute(schema_revisions.insert().values(**_row_of(phase)))


def verdict(conn: Connection, scripts: ScriptDirectory) -> SchemaVerdict:
    """May the code whose migrations are ``scripts`` run on the database of ``conn``?"""
    phases = declared_phases(scripts)
    known = {phase.revision: phase for phase in phases}
    head = phases[-1]
    database = MigrationContext.configure(conn).get_current_revision()
    if database is None or database == head.revision:
        relation = Relation.EMPTY if database is None else Relation.SAME
        words = "nothing migrated yet" if database is None else "the schema is this code's"
        return SchemaVerdict(database, head.revision, relation, True, head.oldest_code, words)
    if database in known:
        return _behind(database, head, known)
    return _ahead(conn, database, head.revision, known)


def _behind(database: str, head: RevisionPhase, known: dict[str, RevisionPhase]) -> SchemaVerdict:
    order = list(known)
    stays = order.index(database) >= order.index(head.oldest_code)
    steps = order[order.index(database) + 1 :]
    words = (
        f"this code upgrades it by {_listed(steps, known)}; code of {database} "
        + ("may keep running beside it" if stays else "may NOT run on the upgraded schema")
        + f" (oldest code that runs on {head.revision}: {head.oldest_code})"
    )
    return SchemaVerdict(database, head.revision, Relation.BEHIND, True, head.oldest_code, words)


def _ahead(
    conn: Connection, database: str, head: str, known: dict[str, RevisionPhase]
) -> SchemaVerdict:
    recorded = _recorded(conn)
    if database not in recorded or head not in recorded:
        words = (
            f"the database is at {database}, which this code (head {head}) does not know, "
            f"and its schema_revisions table does not say how it came from {head}: "
            f"run a release that knows {database}"
        )
        return SchemaVerdict(database, head, Relation.UNKNOWN, False, None, words)
    newer = []
    walk: str | None = database
    while walk is not None and walk != head:
        newer.append(walk)
        walk = recorded[walk].down_revision if walk in recorded else None
    oldest = recorded[database].oldest_code
    may_run = walk == head and oldest in known
    newer.reverse()
    if may_run:
        words = f"newer migrations {_listed(newer, recorded)} let code of {oldest} on run"
    else:
        words = (
            f"newer migrations {_listed(newer, recorded)} need code of {oldest} or later; "
            f"this code is at {head}: upgrade this node to a release that knows {database}"
        )
    return SchemaVerdict(database, head, Relation.AHEAD, may_run, oldest, words)


def refusal(found: SchemaVerdict) -> SchemaTooNew:
    """The error a process raises instead of running on a schema it may not run on."""
    return SchemaTooNew(
        f"metadata schema at {found.database} is ahead of this code ({found.code_head}) "
        f"and this code may not run on it: {found.explanation}"
    )


def _recorded(conn: Connection) -> dict[str, RevisionPhase]:
    if not sa.inspect(conn).has_table(schema_revisions.name):
        return {}
    rows = conn.execute(sa.select(schema_revisions))
    return {row.revision: _phase_of(row) for row in rows}


def _listed(revisions: list[str], phases: dict[str, RevisionPhase]) -> str:
    return ", ".join(f"{rev} ({phases[rev].phase})" for rev in revisions) or "nothing"


def _phase_of(row: sa.Row[Any]) -> RevisionPhase:
    return RevisionPhase(row.revision, row.down_revision, row.phase, row.oldest_code, row.reason)


def _row_of(phase: RevisionPhase) -> dict[str, str | None]:
    return {
        "revision": phase.revision,
        "down_revision": phase.down_revision,
        "phase": phase.phase,
        "oldest_code": phase.oldest_code,
        "reason": phase.reason,
    }
