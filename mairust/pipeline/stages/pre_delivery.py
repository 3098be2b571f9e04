"""Stage ``pre_delivery``: the plugins bound at the ``pre_delivery`` hook point decide,
recipient row by recipient row, before the copy is stored.

Each row is asked on its own (its envelope names that one recipient; its tenants are those
of the mailboxes it routes to), all rows of the batch at once under the ``[hooks]``
deadline (:mod:`mairust.pipeline.hook_loop`). What the verdict does to the row:

- ``reject``: Failed, ``5.7.1`` and the plugin's reason (or the enhanced code and text of
  its own 5xx reply);
- ``tempfail``: Deferred (``4.7.1``), retried like any temporary failure;
- ``discard``: done without a copy; the row's ``Discard`` event says who and why;
- ``quarantine``: stored in Quarantine (see ``mairust.model.annotations``);
- ``accept`` / ``continue``: on to ``store`` with the verdict's folder and tags.

Mail held at ``pre_receive`` stays held whatever the verdict here adds (tags only). Header
and envelope edits are not offered at this point: the message's one blob is shared by its
recipients, so the runtime takes those permissions away at ``pre_delivery``
(``mairust.hooks.permissions.REFUSED_AT``). When the bindings cannot be read, or the batch
does not finish within the deadline, the rows are deferred, never delivered unasked.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import ClassVar

from mairust.errors import CheckUnavailable
from mairust.hooks.chain import ChainResult
from mairust.model.annotations import Annotations
from mairust.model.message import Envelope
from mairust.model.verdict import Verdict, VerdictKind
from mairust.pipeline.hook_loop import DeliveryHooks, RowCall
from mairust.pipeline.stages.base import Ended
from mairust.pipeline.work import (
    BatchContext,
    Deferred,
    Discarded,
    Failed,
    Outcome,
    RecipientWork,
)
from mairust.routing.router import mailboxes_of

_log = logging.getLogger(__name__)


class PreDeliveryStage:
    name: ClassVar[str] = "pre_delivery"
    description: ClassVar[str] = (
        "Ask the plugins bound at pre_delivery about each recipient's copy: reject, "
        "tempfail, discard, quarantine, or on to the mailbox with their folder and tags."
    )

    def __init__(self, hooks: DeliveryHooks | None = None) -> None:
        """``hooks`` None: no plugin is ever asked here (the stage passes every row on)."""
        self._hooks = hooks

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        if self._hooks is None or not works:
            return {}
        try:
            if not self._hooks.bound():
                return {}
            envelopes = batch.stores.metadata.message_envelopes(
                list({work.message.ref.id for work in works})
            )
            asked = [work for work in works if work.message.ref.id in envelopes]
            calls = [_call(work, envelopes[work.message.ref.id]) for work in asked]
            results = self._hooks.decide(calls)
        except CheckUnavailable as error:
            _log.warning("pre_delivery hooks could not run: %s", error)
            return {work.item.id: Deferred(f"4.7.0 pre_delivery: {error}") for work in works}
        ended: Ended = {}
        for work in works:
            if work.message.ref.id not in envelopes:  # the spool wrote it: cannot happen
                ended[work.item.id] = Deferred("4.3.0 pre_delivery: no envelope for the message")
        for work, result in zip(asked, results, strict=True):
            outcome = self._apply(work, result)
            if outcome is not None:
                ended[work.item.id] = outcome
        return ended

    @staticmethod
    def _apply(work: RecipientWork, result: ChainResult | BaseException) -> Outcome | None:
        if isinstance(result, CheckUnavailable):
            return Deferred(f"4.7.0 pre_delivery: {result}")
        if isinstance(result, BaseException):  # a bug must not lose or pass mail: retry
            _log.error("pre_delivery hooks failed on queue row %s: %r", work.item.id, result)
            return Deferred(f"4.3.0 pre_delivery: internal error {type(result).__name__}")
        verdict = result.verdict
        by = verdict.source or "a plugin"
        match verdict.kind:
            case VerdictKind.REJECT:
                return Failed(_permanent(verdict, by))
            case VerdictKind.TEMPFAIL:
                return Deferred(f"4.7.1 deferred by {by} at pre_delivery: {verdict.reason}")
            case VerdictKind.DISCARD:
                return Discarded(verdict.reason or "discarded at pre_delivery", by)
        annotations = _annotated(work.item.annotations, verdict)
        if annotations != work.item.annotations:
            work.item = dataclasses.replace(work.item, annotations=annotations)
        return None


def _call(work: RecipientWork, envelope: Envelope) -> RowCall:
    """The row's question: the message's envelope with this one recipient."""
    raw = work.message.raw
    if raw is None or work.route is None:
        raise RuntimeError("pre_delivery stage needs the parse and route stages before it")
    tenants = tuple(dict.fromkeys(mailbox.tenant_id for mailbox in mailboxes_of(work.route)))
    only_this = dataclasses.replace(envelope, rcpt_tos=(work.item.recipient,))
    return RowCall(only_this, raw, tenants, work.message.ref.id)


def _permanent(verdict: Verdict, by: str) -> str:
    own = verdict.own_reply()
    if own is not None:  # "550 5.7.1 text": the reason keeps the enhanced code and text
        return own.split(" ", 1)[1]
    return f"5.7.1 rejected by {by} at pre_delivery: {verdict.reason or 'refused'}"


def _annotated(current: Annotations, verdict: Verdict) -> Annotations:
    """The row's annotations after the verdict: held mail stays held (tags added)."""
    if current.held:
        tags = tuple(dict.fromkeys((*current.tags, *verdict.annotations.tags)))
        return dataclasses.replace(current, tags=tags)
    merged = current.merged(verdict.annotations)
    return merged.quarantined() if verdict.kind is VerdictKind.QUARANTINE else merged
