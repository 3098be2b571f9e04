"""Requests are built per data scope: a plugin never receives more than its scopes name
(a ``headers`` plugin never sees a body byte), and a point without a body has none to give."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from mairust.errors import InvalidInput
from mairust.hooks.payload import build_request
from mairust.hooks.points import DataScope, HookPoint
from mairust.model.message import Envelope

ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
SECRET = "the-body-secret-9431"
MESSAGE = (
    "From: s@remote.example\r\n"
    "Subject: quarterly\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n'
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    f"Grüße {SECRET} " + "x" * 6000 + "\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    'Content-Disposition: attachment; filename="a.bin"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    f"{base64.b64encode(b'attached bytes').decode()}\r\n"
    "--b--\r\n"
).encode()


def request_json(scopes: set[DataScope], point: HookPoint = HookPoint.PRE_RECEIVE) -> str:
    return build_request(point, scopes, ENVELOPE, MESSAGE, message_id="M1").model_dump_json()


def test_a_headers_plugin_never_receives_a_body_byte() -> None:
    request = build_request(HookPoint.PRE_RECEIVE, {DataScope.HEADERS}, ENVELOPE, MESSAGE)
    assert request.headers is not None and ("Subject", "quarterly") in request.headers
    assert request.envelope is None and request.body_preview is None
    assert request.body_base64 is None and request.attachments is None
    dumped = request.model_dump_json()
    assert SECRET not in dumped and "attached bytes" not in dumped
    assert base64.b64encode(b"attached bytes").decode() not in dumped


def test_each_scope_gives_its_part_and_only_it() -> None:
    envelope_only = build_request(HookPoint.RCPT_TO, {DataScope.ENVELOPE}, ENVELOPE, MESSAGE)
    assert envelope_only.envelope is not None and envelope_only.envelope.rcpt_tos == [
        "a@example.test"
    ]
    assert envelope_only.headers is None and SECRET not in envelope_only.model_dump_json()
    preview = build_request(HookPoint.PRE_RECEIVE, {DataScope.BODY_PREVIEW}, ENVELOPE, MESSAGE)
    assert preview.body_preview is not None and SECRET in preview.body_preview
    assert len(preview.body_preview.encode()) <= 4096  # the first 4 KiB, whole characters
    assert preview.headers is None and preview.attachments is None
    files = build_request(HookPoint.PRE_RECEIVE, {DataScope.ATTACHMENTS}, ENVELOPE, MESSAGE)
    assert files.attachments is not None
    [attached] = files.attachments
    assert (attached.filename, attached.size) == ("a.bin", len(b"attached bytes"))
    assert base64.b64decode(attached.content_base64) == b"attached bytes"
    assert files.body_preview is None
    whole = build_request(HookPoint.PRE_RECEIVE, {DataScope.FULL_BODY}, ENVELOPE, MESSAGE)
    assert whole.body_base64 is not None and base64.b64decode(whole.body_base64) == MESSAGE
    assert whole.headers is None


def test_a_point_without_a_body_refuses_a_body_scope() -> None:
    with pytest.raises(InvalidInput, match="rcpt_to has no headers"):
        build_request(HookPoint.RCPT_TO, {DataScope.HEADERS}, ENVELOPE, MESSAGE)


def test_the_request_says_what_it_was_built_for() -> None:
    request = build_request(
        HookPoint.PRE_RECEIVE, {DataScope.HEADERS, DataScope.ENVELOPE}, ENVELOPE, MESSAGE
    )
    assert request.version == 1 and request.scopes == [DataScope.ENVELOPE, DataScope.HEADERS]
