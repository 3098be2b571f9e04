"""What a plugin may answer: its manifest's permissions turn a response into a verdict,
and whatever lies outside them is dropped (and said, for the log), never applied. A
``headers``-scoped tagger with ``tag`` may tag but not reject."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from mairust.errors import InvalidInput
from mairust.hooks.points import HookPoint
from mairust.hooks.wire import HookResponse
from mairust.model.address import normalize_address
from mairust.model.annotations import Annotations
from mairust.model.modifications import (
    AddHeader,
    AddRecipient,
    ChangeEnvelopeFrom,
    ChangeHeader,
    DeleteHeader,
    DeleteRecipient,
    Modification,
)
from mairust.model.verdict import Verdict, VerdictKind


class HookPermission(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    TEMPFAIL = "tempfail"
    DISCARD = "discard"
    QUARANTINE = "quarantine"
    TAG = "tag"
    FOLDER = "folder"
    HEADERS = "headers"  # add, change, delete header fields
    ENVELOPE = "envelope"  # change the sender, add or delete recipients
    STATE = "state"  # keep key/value state in the metadata store (serve plugins)
    ANNOTATE = "annotate"  # keep notes with the message (post_receive only)


# What a point cannot honour, taken from every binding there: at pre_delivery the message
# is one blob shared by its recipients and already routed, so neither its header fields
# nor its envelope can be edited per recipient (the edits are dropped and logged).
REFUSED_AT: dict[HookPoint, frozenset[HookPermission]] = {
    HookPoint.PRE_DELIVERY: frozenset({HookPermission.HEADERS, HookPermission.ENVELOPE}),
}


def granted_at(
    point: HookPoint, permissions: Collection[HookPermission]
) -> frozenset[HookPermission]:
    """A binding's permissions at ``point``: its manifest's, less what the point refuses."""
    return frozenset(permissions) - REFUSED_AT.get(point, frozenset())


_FOR_KIND = {
    VerdictKind.ACCEPT: HookPermission.ACCEPT,
    VerdictKind.REJECT: HookPermission.REJECT,
    VerdictKind.TEMPFAIL: HookPermission.TEMPFAIL,
    VerdictKind.DISCARD: HookPermission.DISCARD,
    VerdictKind.QUARANTINE: HookPermission.QUARANTINE,
}


@dataclass(frozen=True, slots=True)
class Judged:
    """A plugin's response as a verdict, and what of it was dropped (and why)."""

    verdict: Verdict
    dropped: tuple[str, ...] = ()
    # The response's notes within the permissions, sorted by name (post_receive keeps them).
    notes: tuple[tuple[str, str], ...] = ()


def verdict_of(
    response: HookResponse, plugin: str, permissions: Collection[HookPermission]
) -> Judged:
    """``response`` of ``plugin`` within ``permissions``; ``continue`` is always allowed."""
    dropped: list[str] = []
    kind = response.verdict
    needed = _FOR_KIND.get(kind)
    if needed is not None and needed not in permissions:
        dropped.append(f"verdict {kind.value} (no {needed.value} permission)")
        kind = VerdictKind.CONTINUE
    tags: tuple[str, ...] = ()
    if response.tags:
        if HookPermission.TAG in permissions:
            tags = tuple(response.tags)
        else:
            dropped.append("tags (no tag permission)")
    folder = None
    if response.folder is not None:
        if HookPermission.FOLDER in permissions:
            folder = response.folder
        else:
            dropped.append("folder (no folder permission)")
    modifications: list[Modification] = []
    if response.headers and HookPermission.HEADERS not in permissions:
        dropped.append("header edits (no headers permission)")
    elif response.headers:
        for edit in response.headers:
            try:
                modifications.append(
                    _header_edit(edit.action, edit.name, edit.value, edit.occurrence)
                )
            except InvalidInput as error:
                dropped.append(f"header edit of {edit.name!r}: {error}")
    if response.envelope and HookPermission.ENVELOPE not in permissions:
        dropped.append("envelope edits (no envelope permission)")
    elif response.envelope:
        for change in response.envelope:
            try:
                modifications.append(_envelope_edit(change.action, change.address))
            except InvalidInput as error:
                dropped.append(f"envelope edit {change.action}: {error}")
    notes: tuple[tuple[str, str], ...] = ()
    if response.notes:
        if HookPermission.ANNOTATE in permissions:
            notes = tuple(sorted(response.notes.items()))
        else:
            dropped.append("notes (no annotate permission)")
    verdict = Verdict(
        kind,
        plugin,
        response.reason,
        response.reply if kind is response.verdict else None,
        Annotations(folder=folder, tags=tags),
        tuple(modifications),
    )
    return Judged(verdict, tuple(dropped), notes)


def _header_edit(action: str, name: str, value: str | None, occurrence: int | None) -> Modification:
    if action == "delete":
        return DeleteHeader(name, occurrence)
    if value is None:
        raise InvalidInput(f"{action} needs a value")
    if action == "add":
        return AddHeader(name, value)
    return ChangeHeader(name, value, occurrence or 1)


def _envelope_edit(action: str, address: str) -> Modification:
    if action == "change_from":  # "" is the null sender
        return ChangeEnvelopeFrom(normalize_address(address) if address else "")
    if action == "add_recipient":
        return AddRecipient(normalize_address(address))
    return DeleteRecipient(normalize_address(address))
