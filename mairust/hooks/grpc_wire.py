"""The JSON wire models (``wire.py``) to and from their protocol-buffer twins
(``proto/mairust_hook_v1.proto``), field by field, for the ``grpc`` transport.

Absent stays absent both ways: an ``optional`` proto field or a wrapper message
(``HeaderList``, ``AttachmentList``) is set exactly when the model's value is not None.
A response is read back through ``HookResponse.model_validate``, so a gRPC plugin's answer
passes the same checks as an HTTP plugin's JSON (``pydantic.ValidationError`` otherwise).
"""

from __future__ import annotations

from typing import Any

from mairust.hooks.proto import mairust_hook_v1_pb2 as pb
from mairust.hooks.wire import (
    AttachmentView,
    EnvelopeEdit,
    EnvelopeView,
    HeaderEdit,
    HookRequest,
    HookResponse,
)


def request_to_proto(request: HookRequest) -> pb.HookRequest:
    message = pb.HookRequest(
        version=request.version,
        point=request.point.value,
        scopes=[scope.value for scope in request.scopes],
    )
    if request.message_id is not None:
        message.message_id = request.message_id
    if request.envelope is not None:
        message.envelope.CopyFrom(_envelope_to_proto(request.envelope))
    if request.headers is not None:
        message.headers.SetInParent()  # present, even when empty
        message.headers.items.extend(
            pb.Header(name=name, value=value) for name, value in request.headers
        )
    if request.body_preview is not None:
        message.body_preview = request.body_preview
    if request.body_base64 is not None:
        message.body_base64 = request.body_base64
    if request.attachments is not None:
        message.attachments.SetInParent()
        message.attachments.items.extend(
            pb.AttachmentView(
                index=a.index,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                content_base64=a.content_base64,
            )
            for a in request.attachments
        )
    if request.callback_url is not None:
        message.callback_url = request.callback_url
    if request.callback_token is not None:
        message.callback_token = request.callback_token
    return message


def _envelope_to_proto(envelope: EnvelopeView) -> pb.EnvelopeView:
    message = pb.EnvelopeView(
        client_ip=envelope.client_ip,
        helo=envelope.helo,
        mail_from=envelope.mail_from,
        rcpt_tos=envelope.rcpt_tos,
    )
    if envelope.authenticated_as is not None:
        message.authenticated_as = envelope.authenticated_as
    return message


def request_from_proto(message: pb.HookRequest) -> HookRequest:
    """What a gRPC plugin written in Python reads (and the tests' round trip)."""
    data: dict[str, Any] = {
        "version": message.version,
        "point": message.point,
        "scopes": list(message.scopes),
        "message_id": _optional(message, "message_id"),
        "body_preview": _optional(message, "body_preview"),
        "body_base64": _optional(message, "body_base64"),
        "callback_url": _optional(message, "callback_url"),
        "callback_token": _optional(message, "callback_token"),
    }
    if message.HasField("envelope"):
        envelope = message.envelope
        data["envelope"] = EnvelopeView(
            client_ip=envelope.client_ip,
            helo=envelope.helo,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            authenticated_as=_optional(envelope, "authenticated_as"),
        )
    if message.HasField("headers"):
        data["headers"] = [(h.name, h.value) for h in message.headers.items]
    if message.HasField("attachments"):
        data["attachments"] = [
            AttachmentView(
                index=a.index,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                content_base64=a.content_base64,
            )
            for a in message.attachments.items
        ]
    return HookRequest.model_validate(data)


def response_to_proto(response: HookResponse) -> pb.HookResponse:
    """What a gRPC plugin written in Python answers (and the tests' round trip)."""
    message = pb.HookResponse(
        version=response.version,
        verdict=response.verdict.value,
        reason=response.reason,
        tags=response.tags,
        pending=response.pending,
        notes=response.notes,
    )
    if response.reply is not None:
        message.reply = response.reply
    if response.folder is not None:
        message.folder = response.folder
    for edit in response.headers:
        header = message.headers.add(action=edit.action, name=edit.name)
        if edit.value is not None:
            header.value = edit.value
        if edit.occurrence is not None:
            header.occurrence = edit.occurrence
    message.envelope.extend(
        pb.EnvelopeEdit(action=edit.action, address=edit.address) for edit in response.envelope
    )
    return message


def response_from_proto(message: pb.HookResponse) -> HookResponse:
    """The plugin's answer as the wire model; ``pydantic.ValidationError`` when it is none."""
    data: dict[str, Any] = {
        "reason": message.reason,
        "reply": _optional(message, "reply"),
        "tags": list(message.tags),
        "folder": _optional(message, "folder"),
        "headers": [
            HeaderEdit.model_validate(
                {
                    "action": h.action,
                    "name": h.name,
                    "value": _optional(h, "value"),
                    "occurrence": _optional(h, "occurrence"),
                }
            )
            for h in message.headers
        ],
        "envelope": [
            EnvelopeEdit.model_validate({"action": e.action, "address": e.address})
            for e in message.envelope
        ],
        "pending": message.pending,
        "notes": dict(message.notes),
    }
    # Absent means the model's default (version 1, continue): a plugin need not say them.
    if message.HasField("version"):
        data["version"] = message.version
    if message.HasField("verdict"):
        data["verdict"] = message.verdict
    return HookResponse.model_validate(data)


def _optional(message: Any, field: str) -> Any:
    """The field's value when it is set, None when it is absent."""
    return getattr(message, field) if message.HasField(field) else None
