"""Which sender addresses an authenticated client may use: the one rule that SMTP
submission (MAIL FROM after AUTH) and the send API (the From / envelope sender) share.

A client may send only as an address in a domain of its own tenant. A domain of another
tenant and a domain that is not ours at all are one refusal, told apart to no one (a
tenant must not learn which domains another tenant has). ``<>`` is refused: an
authenticated client hands in new mail, and bounces are the MTA's own to send.
"""

from __future__ import annotations

from enum import StrEnum

from mairust.model.address import domain_of
from mairust.routing.router import Directory


class SenderRefusal(StrEnum):
    """Why a sender address is not the client's to use."""

    NULL_SENDER = "null_sender"
    NOT_OWNED = "not_owned"


def sender_refusal(
    directory: Directory, sender: str, *, tenant_id: str | None
) -> SenderRefusal | None:
    """None when a client of ``tenant_id`` may send as ``sender`` (a normalised address,
    "" for ``<>``); ``tenant_id=None`` is the platform admin's reach: any local domain.
    Reads the directory (blocking); raises StorageUnavailable when it cannot."""
    if not sender:
        return SenderRefusal.NULL_SENDER
    domain = directory.get_domain(domain_of(sender))
    if domain is None or (tenant_id is not None and domain.tenant_id != tenant_id):
        return SenderRefusal.NOT_OWNED
    return None


def login_sender_refusal(directory: Directory, login: str, sender: str) -> SenderRefusal | None:
    """:func:`sender_refusal` for an SMTP client authenticated as mailbox ``login``: its
    tenant is the mailbox's (a mailbox gone since AUTH owns nothing)."""
    mailbox = directory.find_mailbox(login)
    if mailbox is None:
        return SenderRefusal.NULL_SENDER if not sender else SenderRefusal.NOT_OWNED
    return sender_refusal(directory, sender, tenant_id=mailbox.tenant_id)
