"""The one verdict model: what a check or a hook decides about a transaction.

A closed set of kinds (DESIGN §6; Haraka's ``CONT OK DENY DENYSOFT``, STYLE 4), plus the
annotations it attaches (folder, tags) and the declarative modifications it asks for
(``mairust.model.modifications`` applies them, in one place). The SMTP edge turns a verdict
into a reply in one table (``mairust.smtp.replies.reply_for``); a verdict may choose its
own reply, but only within its kind's class (a ``reject`` is always 5xx).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mairust.model.annotations import Annotations
from mairust.model.modifications import Modification


class VerdictKind(enum.StrEnum):
    CONTINUE = "continue"  # no opinion: the next check or hook decides
    ACCEPT = "accept"  # take it; later hooks of the same point are not asked
    REJECT = "reject"  # refuse for good (5xx)
    TEMPFAIL = "tempfail"  # refuse for now (4xx): the sender retries
    DISCARD = "discard"  # answer 250 and keep nothing (an explicit decision to drop)
    QUARANTINE = "quarantine"  # take it, held away from the inbox


# Most severe first: when several verdicts meet, the most severe wins (ties: the first).
SEVERITY: dict[VerdictKind, int] = {
    VerdictKind.REJECT: 5,
    VerdictKind.TEMPFAIL: 4,
    VerdictKind.DISCARD: 3,
    VerdictKind.QUARANTINE: 2,
    VerdictKind.ACCEPT: 1,
    VerdictKind.CONTINUE: 0,
}
# The reply class each refusing kind must answer in.
_REPLY_CLASS = {VerdictKind.REJECT: "5", VerdictKind.TEMPFAIL: "4"}
_REPLY = re.compile(
    r"(?P<code>[45]\d\d) (?P<enhanced>[45]\.\d{1,3}\.\d{1,3}) (?P<text>[\x20-\x7e]{1,400})"
)


class Source(enum.StrEnum):
    """Who decided, when it is the platform itself (a plugin names itself instead)."""

    NONE = ""
    SPF = "spf"
    DMARC = "dmarc"
    DNS = "dns"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    # Who decided: a Source value or a plugin's name; picks the default reply.
    source: str = Source.NONE
    reason: str = ""
    # A reply of the decider's own ("550 5.7.1 text"), used when it fits the kind's class.
    reply: str | None = None
    annotations: Annotations = field(default_factory=Annotations)
    modifications: tuple[Modification, ...] = ()

    @property
    def refuses(self) -> bool:
        return self.kind in (VerdictKind.REJECT, VerdictKind.TEMPFAIL)

    def own_reply(self) -> str | None:
        """The decider's reply if it is well formed and in the kind's class, else None."""
        wanted = _REPLY_CLASS.get(self.kind)
        if self.reply is None or wanted is None:
            return None
        match = _REPLY.fullmatch(self.reply)
        if match is None or match["code"][0] != wanted or match["enhanced"][0] != wanted:
            return None
        return self.reply


CONTINUE = Verdict(VerdictKind.CONTINUE)


def most_severe(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict that wins: the most severe, the first of equals (callers order by
    priority); CONTINUE when there is none. Annotations and modifications of every
    verdict that takes the message are kept, in order."""
    listed = list(verdicts)
    if not listed:
        return CONTINUE
    winner = max(listed, key=lambda v: SEVERITY[v.kind])  # max keeps the first of equals
    if winner.refuses or winner.kind is VerdictKind.DISCARD:
        return winner
    annotations = Annotations()
    modifications: list[Modification] = []
    for verdict in listed:
        annotations = annotations.merged(verdict.annotations)
        modifications.extend(verdict.modifications)
    annotations = annotations.merged(winner.annotations)  # the winner's folder wins
    return Verdict(
        winner.kind,
        winner.source,
        winner.reason,
        winner.reply,
        annotations,
        tuple(modifications),
    )
