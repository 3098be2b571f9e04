"""Verdict helpers: a ``HookResponse`` for each verdict, with its annotations.

What a plugin may answer is limited by its manifest's permissions: a verdict or an
annotation outside them is dropped by the platform (and logged), never applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mairust.hooks.wire import HeaderEdit, HookResponse
from mairust.model.verdict import VerdictKind


def _response(
    kind: VerdictKind,
    reason: str,
    *,
    reply: str | None = None,
    tags: Iterable[str] = (),
    headers: Iterable[HeaderEdit] = (),
    folder: str | None = None,
    notes: Mapping[str, str] | None = None,
) -> HookResponse:
    return HookResponse(
        verdict=kind,
        reason=reason,
        reply=reply,
        tags=list(tags),
        headers=list(headers),
        folder=folder,
        notes=dict(notes or {}),
    )


def proceed(
    reason: str = "",
    *,
    tags: Iterable[str] = (),
    headers: Iterable[HeaderEdit] = (),
    notes: Mapping[str, str] | None = None,
) -> HookResponse:
    """No opinion (``continue``): the others decide; annotations still count. ``notes``
    (``post_receive`` only, needs the ``annotate`` permission) are kept with the message."""
    return _response(VerdictKind.CONTINUE, reason, tags=tags, headers=headers, notes=notes)


def tag(
    *tags: str,
    reason: str = "",
    headers: Iterable[HeaderEdit] = (),
    notes: Mapping[str, str] | None = None,
) -> HookResponse:
    """``continue`` with tags (needs the ``tag`` permission), and maybe ``notes``."""
    return _response(VerdictKind.CONTINUE, reason, tags=tags, headers=headers, notes=notes)


def accept(reason: str = "", *, tags: Iterable[str] = ()) -> HookResponse:
    return _response(VerdictKind.ACCEPT, reason, tags=tags)


def reject(reason: str, *, reply: str | None = None) -> HookResponse:
    """Refuse for good; ``reply`` (e.g. "550 5.7.1 No thanks") must be a 5xx reply."""
    return _response(VerdictKind.REJECT, reason, reply=reply)


def tempfail(reason: str, *, reply: str | None = None) -> HookResponse:
    """Refuse for now; ``reply`` must be a 4xx reply. The sender tries again later."""
    return _response(VerdictKind.TEMPFAIL, reason, reply=reply)


def discard(reason: str) -> HookResponse:
    """Answer 250 and keep nothing."""
    return _response(VerdictKind.DISCARD, reason)


def quarantine(reason: str, *, folder: str | None = None, tags: Iterable[str] = ()) -> HookResponse:
    return _response(VerdictKind.QUARANTINE, reason, folder=folder, tags=tags)


def add_header(name: str, value: str) -> HeaderEdit:
    """A header field to add (needs the ``headers`` permission)."""
    return HeaderEdit(action="add", name=name, value=value)
