from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnvelopeView(_message.Message):
    __slots__ = ("client_ip", "helo", "mail_from", "rcpt_tos", "authenticated_as")
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    HELO_FIELD_NUMBER: _ClassVar[int]
    MAIL_FROM_FIELD_NUMBER: _ClassVar[int]
    RCPT_TOS_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_AS_FIELD_NUMBER: _ClassVar[int]
    client_ip: str
    helo: str
    mail_from: str
    rcpt_tos: _containers.RepeatedScalarFieldContainer[str]
    authenticated_as: str
    def __init__(self, client_ip: _Optional[str] = ..., helo: _Optional[str] = ..., mail_from: _Optional[str] = ..., rcpt_tos: _Optional[_Iterable[str]] = ..., authenticated_as: _Optional[str] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class HeaderList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Header]
    def __init__(self, items: _Optional[_Iterable[_Union[Header, _Mapping]]] = ...) -> None: ...

class AttachmentView(_message.Message):
    __slots__ = ("index", "filename", "content_type", "size", "content_base64")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BASE64_FIELD_NUMBER: _ClassVar[int]
    index: int
    filename: str
    content_type: str
    size: int
    content_base64: str
    def __init__(self, index: _Optional[int] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., size: _Optional[int] = ..., content_base64: _Optional[str] = ...) -> None: ...

class AttachmentList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AttachmentView]
    def __init__(self, items: _Optional[_Iterable[_Union[AttachmentView, _Mapping]]] = ...) -> None: ...

class HookRequest(_message.Message):
    __slots__ = ("version", "point", "message_id", "scopes", "envelope", "headers", "body_preview", "body_base64", "attachments", "callback_url", "callback_token")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    BODY_BASE64_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    CALLBACK_TOKEN_FIELD_NUMBER: _ClassVar[int]
    version: int
    point: str
    message_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    envelope: EnvelopeView
    headers: HeaderList
    body_preview: str
    body_base64: str
    attachments: AttachmentList
    callback_url: str
    callback_token: str
    def __init__(self, version: _Optional[int] = ..., point: _Optional[str] = ..., message_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., envelope: _Optional[_Union[EnvelopeView, _Mapping]] = ..., headers: _Optional[_Union[HeaderList, _Mapping]] = ..., body_preview: _Optional[str] = ..., body_base64: _Optional[str] = ..., attachments: _Optional[_Union[AttachmentList, _Mapping]] = ..., callback_url: _Optional[str] = ..., callback_token: _Optional[str] = ...) -> None: ...

class HeaderEdit(_message.Message):
    __slots__ = ("action", "name", "value", "occurrence")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_FIELD_NUMBER: _ClassVar[int]
    action: str
    name: str
    value: str
    occurrence: int
    def __init__(self, action: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[str] = ..., occurrence: _Optional[int] = ...) -> None: ...

class EnvelopeEdit(_message.Message):
    __slots__ = ("action", "address")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    action: str
    address: str
    def __init__(self, action: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class HookResponse(_message.Message):
    __slots__ = ("version", "verdict", "reason", "reply", "tags", "folder", "headers", "envelope", "pending", "notes")
    class NotesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    version: int
    verdict: str
    reason: str
    reply: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    folder: str
    headers: _containers.RepeatedCompositeFieldContainer[HeaderEdit]
    envelope: _containers.RepeatedCompositeFieldContainer[EnvelopeEdit]
    pending: bool
    notes: _containers.ScalarMap[str, str]
    def __init__(self, version: _Optional[int] = ..., verdict: _Optional[str] = ..., reason: _Optional[str] = ..., reply: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., folder: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[HeaderEdit, _Mapping]]] = ..., envelope: _Optional[_Iterable[_Union[EnvelopeEdit, _Mapping]]] = ..., pending: _Optional[bool] = ..., notes: _Optional[_Mapping[str, str]] = ...) -> None: ...
