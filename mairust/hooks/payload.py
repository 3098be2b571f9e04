"""What a plugin is given: a request built per data scope, so a plugin never receives more
than its binding's scopes name (a ``headers`` plugin never sees a body byte)."""

from __future__ import annotations

import base64
from collections.abc import Collection

from mairust.errors import InvalidInput
from mairust.hooks.points import POINTS, DataScope, HookPoint
from mairust.hooks.wire import AttachmentView, EnvelopeView, HookRequest
from mairust.model.attachments import attachment_of
from mairust.model.message import Envelope
from mairust.model.parsing import parse_message

DEFAULT_PREVIEW_BYTES = 4096


def build_request(
    point: HookPoint,
    scopes: Collection[DataScope],
    envelope: Envelope,
    message: bytes | None = None,
    *,
    message_id: str | None = None,
    preview_bytes: int = DEFAULT_PREVIEW_BYTES,
) -> HookRequest:
    """The request for one binding; InvalidInput for a scope the point does not have."""
    given = sorted(set(scopes))
    missing = set(given) - POINTS[point].scopes
    if missing:
        names = ", ".join(sorted(missing))
        raise InvalidInput(f"{point.value} has no {names} to give (only the envelope)")
    request = HookRequest(point=point, message_id=message_id, scopes=given)
    if DataScope.ENVELOPE in given:
        request.envelope = EnvelopeView(
            client_ip=envelope.client_ip,
            helo=envelope.helo,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            authenticated_as=envelope.authenticated_as,
        )
    wants_message = {DataScope.HEADERS, DataScope.BODY_PREVIEW, DataScope.ATTACHMENTS}
    if message is None or (not wants_message & set(given) and DataScope.FULL_BODY not in given):
        return request
    if DataScope.FULL_BODY in given:
        request.body_base64 = base64.b64encode(message).decode("ascii")
    if wants_message & set(given):
        parsed = parse_message(message)
        if DataScope.HEADERS in given:
            request.headers = [(name, value) for name, value in parsed.headers]
        if DataScope.BODY_PREVIEW in given:
            text = parsed.text if parsed.text is not None else parsed.html or ""
            request.body_preview = _first_bytes(text, preview_bytes)
        if DataScope.ATTACHMENTS in given:
            request.attachments = [
                _attachment(message, index) for index in range(len(parsed.attachments))
            ]
    return request


def _first_bytes(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes of ``text``, never cutting a character in two."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _attachment(message: bytes, index: int) -> AttachmentView:
    found = attachment_of(message, index)
    return AttachmentView(
        index=index,
        filename=found.info.filename,
        content_type=found.info.content_type,
        size=len(found.content),
        content_base64=base64.b64encode(found.content).decode("ascii"),
    )
