"""The request body of ``POST /api/v1/send`` (pydantic), turned into a core Composition.

Validation refuses here, with a 422 naming the field, what could change the message's
structure: CR, LF, NUL and every other control character in any string field
(:data:`SingleLine`; only the ``text`` and ``html`` bodies may hold line breaks),
malformed addresses, header names the platform owns, content that is not base64, and too
many recipients or attachments. The size cap is configuration (``api.max_send_size``),
so it is checked by :meth:`SendRequest.to_composition`, which the service calls.
The rules themselves live in :mod:`mairust.model.compose`; this module maps their
refusals to pydantic errors, so a client hears about every bad field at once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from mairust.errors import InvalidInput
from mairust.model import compose
from mairust.model.compose import Attachment, Composition, NamedAddress

MAX_RECIPIENTS = 100
MAX_REPLY_TO = 10
MAX_ATTACHMENTS = 50
MAX_HEADERS = 50
MAX_SUBJECT_LENGTH = 998
MAX_NAME_LENGTH = 256
MAX_FILENAME_LENGTH = 255
MAX_HEADER_VALUE_LENGTH = 998
# A ceiling on the base64 text of one attachment, whatever the configured size cap: it
# bounds the work done before the cap is checked (32 MiB decoded).
MAX_ATTACHMENT_BASE64 = (32 * 1024 * 1024) * 4 // 3 + 4


def _refusing(check: Callable[[str], str]) -> Callable[[str], str]:
    """``check`` with its InvalidInput raised as the ValueError pydantic reports as a 422."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidInput as error:
            raise ValueError(str(error)) from None

    return validate


def _base64(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput("content is not base64 (RFC 4648, no line breaks)") from error
    return value


SingleLine = Annotated[
    str, AfterValidator(_refusing(lambda v: compose.check_single_line(v, "the value")))
]
"""A string field that refuses CR, LF, NUL and every other control character but TAB."""

Body = Annotated[str, AfterValidator(_refusing(lambda v: compose.check_body(v, "the body")))]
"""A message body: line breaks welcome (written as CRLF), NUL refused."""

EmailAddress = Annotated[
    SingleLine,
    Field(min_length=3, max_length=compose.MAX_ADDRESS_LENGTH, examples=["jane@example.com"]),
    AfterValidator(_refusing(lambda v: compose.check_address(v, "address"))),
]
HeaderName = Annotated[
    str,
    Field(examples=["X-Campaign"]),
    AfterValidator(_refusing(compose.check_header_name)),
]
HeaderValue = Annotated[SingleLine, Field(max_length=MAX_HEADER_VALUE_LENGTH)]
MediaType = Annotated[
    SingleLine, AfterValidator(_refusing(compose.check_media_type)), Field(max_length=255)
]


class AddressIn(BaseModel):
    """A mailbox: its address and an optional display name (UTF-8 is fine)."""

    model_config = ConfigDict(extra="forbid")

    address: EmailAddress
    name: Annotated[
        SingleLine,
        Field(max_length=MAX_NAME_LENGTH, examples=["Jane Doe"]),
        AfterValidator(_refusing(lambda v: compose.check_display_name(v, "a name"))),
    ] = ""

    def to_core(self) -> NamedAddress:
        return NamedAddress(address=self.address, name=self.name)


def _address_object(value: Any) -> Any:
    # A bare "jane@example.com" is the common case; it means {"address": ...}.
    return {"address": value} if isinstance(value, str) else value


AddressField = Annotated[
    AddressIn,
    BeforeValidator(_address_object, json_schema_input_type=str | AddressIn),
]


class AttachmentIn(BaseModel):
    """A file to attach; its bytes as standard base64 without line breaks."""

    model_config = ConfigDict(extra="forbid")

    filename: Annotated[
        SingleLine,
        Field(min_length=1, max_length=MAX_FILENAME_LENGTH, examples=["report.pdf"]),
        AfterValidator(_refusing(compose.check_filename)),
    ]
    content_type: MediaType = Field(default="application/octet-stream", examples=["text/csv"])
    content: Annotated[
        SingleLine,
        Field(max_length=MAX_ATTACHMENT_BASE64, examples=["aGVsbG8="]),
        AfterValidator(_refusing(_base64)),
    ]

    def to_core(self) -> Attachment:
        return Attachment(
            filename=self.filename,
            content_type=self.content_type,
            content=base64.b64decode(self.content),
        )


class SendRequest(BaseModel):
    """A message to send: at least one recipient and a text or html body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AddressField = Field(alias="from", description="The author (From header).")
    to: list[AddressField] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    cc: list[AddressField] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[AddressField] = Field(
        default_factory=list,
        max_length=MAX_RECIPIENTS,
        description="Recipients who get the message without being named in it.",
    )
    reply_to: list[AddressField] = Field(default_factory=list, max_length=MAX_REPLY_TO)
    subject: Annotated[SingleLine, Field(max_length=MAX_SUBJECT_LENGTH)] = ""
    text: Body | None = Field(default=None, description="The plain-text body.")
    html: Body | None = Field(default=None, description="The HTML body.")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="Extra header fields. The platform's own (From, To, Date, Message-ID, "
        "Content-*, Received, DKIM-Signature, ARC-*, ...) are refused.",
    )
    unsubscribe: bool = Field(
        default=False,
        description="Add a one-click unsubscribe link (RFC 8058: List-Unsubscribe and "
        "List-Unsubscribe-Post) that puts the recipient on this account's suppression "
        "list. Only for a message to exactly one remote recipient (the link names them); "
        "the server must have `unsubscribe.base_url` configured.",
    )

    @model_validator(mode="after")
    def _complete(self) -> SendRequest:
        count = len(self.to) + len(self.cc) + len(self.bcc)
        if count == 0:
            raise ValueError("a message needs at least one recipient (to, cc or bcc)")
        if count > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
        if self.text is None and self.html is None:
            raise ValueError("a message needs a text or an html body")
        if self.unsubscribe and count != 1:
            # One commit serves every recipient: a link shared by several would let each
            # unsubscribe the others. Send one message per recipient instead.
            raise ValueError("`unsubscribe` needs exactly one recipient (to, cc or bcc)")
        return self

    def to_composition(self, *, max_size: int) -> Composition:
        """The core value; InvalidInput when bodies and attachments exceed ``max_size`` bytes."""
        attachments = tuple(attachment.to_core() for attachment in self.attachments)
        size = sum(len(a.content) for a in attachments) + sum(
            len(body.encode("utf-8")) for body in (self.text, self.html) if body is not None
        )
        if size > max_size:
            raise InvalidInput(
                f"the message's bodies and attachments come to {size} bytes; "
                f"the limit is {max_size}"
            )
        return Composition(
            from_addr=self.from_.to_core(),
            to=tuple(a.to_core() for a in self.to),
            cc=tuple(a.to_core() for a in self.cc),
            bcc=tuple(a.to_core() for a in self.bcc),
            reply_to=tuple(a.to_core() for a in self.reply_to),
            subject=self.subject,
            text=self.text,
            html=self.html,
            attachments=attachments,
            headers=tuple(self.headers.items()),
            unsubscribe=self.unsubscribe,
        )


class SendAccepted(BaseModel):
    """A message durably accepted for delivery (the API's "250 queued as")."""

    queue_id: str = Field(description="The id the queue and the message trace know it by.")
    message_id: str = Field(
        description="The Message-ID header's value, angle brackets included.",
        examples=["<01JDZ6Q3S8X9V2W4Y6Z8A0B2C4@example.com>"],
    )
    recipients: list[str] = Field(description="The envelope recipients (to, cc and bcc).")
