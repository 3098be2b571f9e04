"""What a plugin is sent and what it answers: versioned JSON models (version 1), the same
for every transport. A request holds only the parts of the message its binding's scopes
name (``payload.build_request``); a response is read into a ``Verdict`` through the
plugin's permissions (``permissions.verdict_of``).

Version 1 grew two optional parts for asynchronous hooks (a plugin that ignores them is
unaffected): a ``post_receive`` request carries ``callback_url`` and ``callback_token``,
and a response may say ``pending: true`` to answer later on that URL. It grew ``notes`` too:
short named texts a ``post_receive`` answer keeps with the message (a summary, a language),
which the message API shows; other points ignore them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mairust.hooks.points import DataScope, HookPoint
from mairust.model.verdict import VerdictKind

WIRE_VERSION: Literal[1] = 1
MAX_NOTES = 8
MAX_NOTE_CHARS = 2000
NoteName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
NoteText = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]


class EnvelopeView(BaseModel):
    client_ip: str
    helo: str
    mail_from: str
    rcpt_tos: list[str]
    authenticated_as: str | None = None


class AttachmentView(BaseModel):
    index: int
    filename: str
    content_type: str
    size: int
    content_base64: str


class HookRequest(BaseModel):
    """One call of one plugin at one hook point."""

    version: Literal[1] = WIRE_VERSION
    point: HookPoint
    message_id: str | None = None
    # The scopes this request was built for: every other field is absent.
    scopes: list[DataScope]
    envelope: EnvelopeView | None = None
    headers: list[tuple[str, str]] | None = None
    body_preview: str | None = None
    body_base64: str | None = None
    attachments: list[AttachmentView] | None = None
    # post_receive only: where and with which token the plugin may answer later (when it
    # answers ``pending``). Absent elsewhere.
    callback_url: str | None = None
    callback_token: str | None = None


class HeaderEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["add", "change", "delete"]
    name: str = Field(min_length=1, max_length=76)
    value: str | None = Field(None, max_length=4000)
    occurrence: int | None = Field(None, ge=1)


class EnvelopeEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["change_from", "add_recipient", "delete_recipient"]
    address: str = Field(max_length=254)


class HookResponse(BaseModel):
    """A plugin's answer; unknown fields are refused (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = WIRE_VERSION
    verdict: VerdictKind = VerdictKind.CONTINUE
    reason: str = Field("", max_length=400)
    # A reply of its own within the verdict's class, e.g. "554 5.7.1 Looks like spam".
    reply: str | None = Field(None, max_length=512)
    tags: list[str] = Field(default_factory=list, max_length=32)
    folder: str | None = Field(None, max_length=200)
    headers: list[HeaderEdit] = Field(default_factory=list, max_length=32)
    envelope: list[EnvelopeEdit] = Field(default_factory=list, max_length=32)
    # post_receive only: "I answer later, on the callback URL"; the rest is then ignored.
    pending: bool = False
    # post_receive only (needs the ``annotate`` permission): named texts kept with the
    # message's job and shown by the message API, e.g. {"summary": "..."}.
    notes: dict[NoteName, NoteText] = Field(default_factory=dict, max_length=MAX_NOTES)
