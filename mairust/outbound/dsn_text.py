"""The plain-words part of a DSN and its Subject: what happened to each recipient, said
for a person (the machine-readable report is ``dsn.py``'s ``message/delivery-status``)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mairust.outbound.bounce_class import classify_reply, classify_reply_text
from mairust.outbound.dsn_fields import (
    MAX_DIAGNOSTIC,
    DsnAction,
    one_line,
    rfc5322_date,
    typed_diagnostic,
)

if TYPE_CHECKING:
    from mairust.outbound.dsn import RecipientOutcome


def subject(reported: Sequence[RecipientOutcome]) -> str:
    """The DSN's Subject, after the actions it reports (Postfix's wordings)."""
    actions = {o.action for o in reported}
    if actions == {DsnAction.FAILED}:
        return "Undelivered Mail Returned to Sender"
    if actions == {DsnAction.DELAYED}:
        return "Delayed Mail (still being retried)"
    if DsnAction.FAILED not in actions and DsnAction.DELAYED not in actions:
        return "Successful Mail Delivery Report"
    return "Delivery Status Notification"


def human_text(reported: Sequence[RecipientOutcome], mta_name: str, note: str) -> str:
    """The first part: a paragraph per recipient, then ``note`` (what of the original is
    returned, when not all of it), wrapped at 76 columns, CRLF line ends."""
    paragraphs = [f"This is the mail system at {mta_name}.", ""]
    for outcome in reported:
        paragraphs += _about(outcome)
    if note:
        paragraphs += [note, ""]
    paragraphs += ["Details for software follow in the delivery report below.", ""]
    lines: list[str] = []
    for paragraph in paragraphs:
        indent = "    " if paragraph.startswith("  ") else ""
        wrapped = textwrap.wrap(
            paragraph.strip(), width=76, initial_indent=indent, subsequent_indent=indent
        )
        lines += wrapped or [""]
    return "\r\n".join(lines)


def _about(outcome: RecipientOutcome) -> list[str]:
    who = one_line(outcome.final_recipient)
    said = ""
    if outcome.diagnostic:
        kind, _, text = typed_diagnostic(outcome.diagnostic, MAX_DIAGNOSTIC).partition(";")
        host = f" {one_line(outcome.remote_mta)}" if outcome.remote_mta else ""
        # Only an SMTP diagnostic is what a server said; anything else is our own account.
        said = f"  The server{host} said: {text.strip()}" if kind == "smtp" else f"  {text.strip()}"
    if outcome.action is DsnAction.FAILED:
        reason = _reason(outcome)
        lines = [f"Your message could not be delivered to <{who}>: {reason}."]
        lines.append(
            "  This failure is permanent; we will not try again."
            if outcome.status.startswith("5")
            else "  We tried for as long as we keep a message and have now given up."
        )
    elif outcome.action is DsnAction.DELAYED:
        reason = _reason(outcome)
        lines = [f"Your message has not been delivered to <{who}> yet: {reason}."]
        until = outcome.will_retry_until
        lines.append(
            f"  We will keep trying until {rfc5322_date(until)}; you need not send it again."
            if until
            else "  We will keep trying; you need not send it again."
        )
    elif outcome.action is DsnAction.DELIVERED:
        lines = [f"Your message was delivered to <{who}>."]
    elif outcome.action is DsnAction.RELAYED:
        lines = [
            f"Your message was relayed for <{who}> to a server that does not send "
            "delivery notifications; you may hear nothing more about it."
        ]
    else:
        lines = [f"Your message was delivered to <{who}>, a list or alias that forwards it on."]
    if said:
        lines.append(said)
    return [*lines, ""]


def _reason(outcome: RecipientOutcome) -> str:
    """The failure in plain words: an SMTP reply classified as it reads, our own account of
    a failure (no reply) by its status."""
    kind, text = "", ""
    if outcome.diagnostic:
        kind, _, text = typed_diagnostic(outcome.diagnostic, MAX_DIAGNOSTIC).partition(";")
    if kind == "smtp":
        found = classify_reply_text(text.strip())
    else:
        found = classify_reply(None, outcome.status, text.strip())
    return f"{found.description} ({outcome.status})"
