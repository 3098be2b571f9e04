"""The attachments of a raw message, numbered as the message detail lists them.

The rule for "is an attachment" is :func:`mairust.model.parsing.is_attachment`, shared with
the parser, so number ``n`` here is entry ``n`` of ``ParsedMessage.attachments``.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

from mairust.errors import NotFound
from mairust.model.parsing import AttachmentInfo, attachment_info


@dataclass(frozen=True, slots=True)
class Attachment:
    info: AttachmentInfo
    content: bytes  # decoded (base64 / quoted-printable undone)


def attachment_of(raw: bytes, index: int) -> Attachment:
    """Attachment number ``index`` (from 0) of the message; NotFound past the last."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = 0
    for part in msg.walk():
        info = attachment_info(part)
        if info is None:
            continue
        if found == index:
            payload = part.get_payload(decode=True)
            return Attachment(info, payload if isinstance(payload, bytes) else b"")
        found += 1
    raise NotFound(f"the message has no attachment {index}")
