"""A tenant's suppression list: remote addresses it must not send to, and why.

Hard bounces and complaints add to it by themselves; tenant admins list, add, remove and
import entries. Sending to a suppressed address is refused with its reason, at RCPT for
submission and as a 422 for the send API.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class SuppressionReason(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"  # a remote MTA said the address does not exist
    COMPLAINT = "complaint"  # the recipient reported our mail as spam (ARF)
    UNSUBSCRIBE = "unsubscribe"  # the recipient unsubscribed (List-Unsubscribe)
    MANUAL = "manual"  # an admin added it (or imported it)


@dataclass(frozen=True, slots=True)
class Suppression:
    tenant_id: str
    address: str  # lower case: suppression ignores case
    reason: SuppressionReason
    created_at: datetime
    # What made it: the bounce reply, the report's id, who added it.
    detail: str = ""


def suppression_key(address: str) -> str:
    """The form an address is suppressed under (RFC 5321 leaves the local part's case to
    the receiver; a list that missed a case variant would send where it must not)."""
    return address.strip().lower()
