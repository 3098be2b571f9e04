"""Asynchronous hook jobs: one per (message, plugin, point), kept in the metadata store.

A ``post_receive`` binding's call is a durable job (DESIGN §6: async hooks survive restarts
and kill -9): leased like the queue, retried with backoff, and settled once. What a job's
verdict does to the message's mailbox entries is a :class:`JobEffect`, applied in the same
transaction that marks the job done, so a verdict is applied exactly once; applying it
again (a later copy of the message) changes nothing twice.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mairust.model.folders import QUARANTINE
from mairust.model.message import Envelope
from mairust.model.verdict import Verdict, VerdictKind


class HookJobState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    LEASED = "leased"  # a job loop holds it until lease_until
    WAITING = "waiting"  # the plugin answers later, on the callback API, until callback_until
    DONE = "done"  # its verdict is recorded (and applied, for an enforce binding)
    FAILED = "failed"  # gave up; last_error says why


@dataclass(frozen=True, slots=True)
class JobTarget:
    """One delivered copy of a message: whose it is and to which domain it was sent; the
    bindings whose tenant / domain filters match it get a job for the message."""

    message_id: str
    tenant_id: str
    domain: str


@dataclass(frozen=True, slots=True)
class JobEffect:
    """What a verdict does to the message's entries: tags added, and a folder to move to;
    and the plugin's notes (name, text), kept with the job's result for the message API."""

    verdict: str
    tags: tuple[str, ...] = ()
    folder: str | None = None
    notes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, verdict: Verdict, notes: tuple[tuple[str, str], ...] = ()) -> JobEffect:
        """A ``quarantine`` verdict moves the entries to the quarantine folder; the others
        (after the 250 nothing is refused any more) add tags and maybe move them."""
        folder = QUARANTINE if verdict.kind is VerdictKind.QUARANTINE else None
        return cls(
            verdict.kind.value,
            verdict.annotations.tags,
            folder or verdict.annotations.folder,
            notes,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "verdict": self.verdict,
            "tags": list(self.tags),
            "folder": self.folder,
        }
        if self.notes:
            data["notes"] = dict(self.notes)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobEffect:
        notes = tuple(sorted((str(k), str(v)) for k, v in (data.get("notes") or {}).items()))
        return cls(str(data["verdict"]), tuple(data.get("tags") or ()), data.get("folder"), notes)


@dataclass(frozen=True, slots=True)
class HookJob:
    id: str
    message_id: str
    binding_id: str
    plugin: str
    point: str
    mode: str  # "enforce" (applied) or "shadow" (recorded only)
    # The binding's filters: an effect is applied to the entries they match only.
    tenant_id: str | None
    domain: str | None
    state: HookJobState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    callback_until: datetime | None = None
    result: dict[str, Any] | None = None
    last_error: str | None = None
    finished_at: datetime | None = None
    # Read with the job, for the call: where the message's bytes are, and its envelope.
    blob_key: str = ""
    envelope: Envelope | None = field(default=None, compare=False)


def notes_for(jobs: Sequence[HookJob], tenant_id: str, address: str) -> dict[str, dict[str, str]]:
    """The notes a mailbox entry shows, by plugin: those of the message's jobs that are done,
    ``enforce`` (a ``shadow`` binding's answer is only recorded) and whose binding filters
    match the entry (its tenant, its mailbox's domain), as their effects are applied."""
    domain = address.rpartition("@")[2].lower()
    shown: dict[str, dict[str, str]] = {}
    for job in jobs:
        if job.state is not HookJobState.DONE or job.mode != "enforce" or not job.result:
            continue
        if job.tenant_id is not None and job.tenant_id != tenant_id:
            continue
        if job.domain is not None and job.domain.lower() != domain:
            continue
        notes = JobEffect.from_json(job.result).notes
        if notes:
            shown.setdefault(job.plugin, {}).update(notes)
    return shown
