"""The send request model: what it refuses (422), and the Composition it makes."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from mairust.api.schemas_send import MAX_RECIPIENTS, SendRequest
from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.model.compose import Attachment, NamedAddress, compose
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.parsing import parse_message
from mairust.spool import Spool
from mairust.storage.stores import Stores

from .conftest import assert_problem

# Every field of every model set, so the walks below reach every string the API takes.
FULL: dict[str, Any] = {
    "from": {"address": "alice@example.com", "name": "Alice"},
    "to": ["bob@example.org", {"address": "carol@example.org", "name": "Carol"}],
    "cc": [{"address": "dave@example.org", "name": "Dave"}],
    "bcc": ["erin@example.net"],
    "reply_to": [{"address": "help@example.com", "name": "Help desk"}],
    "subject": "Quarterly report",
    "text": "Hello,\nthe report is attached.\n",
    "html": "<p>Hello,</p>\n<p>the report is attached.</p>",
    "attachments": [
        {
            "filename": "report.csv",
            "content_type": "text/csv",
            "content": base64.b64encode(b"a,b\r\n1,2\r\n").decode(),
        }
    ],
    "headers": {"X-Campaign": "q3", "In-Reply-To": "<parent@example.org>"},
    # True needs exactly one recipient (test_unsubscribe_needs_exactly_one_recipient).
    "unsubscribe": False,
}
# The only string fields that may hold line breaks: they are the message's bodies.
BODIES = {("text",), ("html",)}
ADDRESS_LISTS = {"to", "cc", "bcc", "reply_to"}
SCHEMA = SendRequest.model_json_schema(mode="validation")

Path = tuple[str | int, ...]


def _resolve(node: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return name, SCHEMA["$defs"][name]
    return None, node


def _branch(node: dict[str, Any], value: Any) -> dict[str, Any]:
    """The schema a value is checked against: the anyOf branch of its JSON type."""
    for option in node.get("anyOf", [node]):
        _, resolved = _resolve(option)
        wanted = "object" if isinstance(value, dict) else "string"
        if resolved.get("type") == wanted or (wanted == "object" and "properties" in resolved):
            return option
    return node


def walk(
    value: Any, node: dict[str, Any], path: Path, covered: dict[str, set[str]]
) -> Iterator[tuple[Path, bool]]:
    """(path, is_key) of every string in ``value``, noting which model fields it filled."""
    name, schema = _resolve(_branch(node, value))
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, schema["items"], (*path, index), covered)
    elif isinstance(value, dict) and "properties" in schema:
        covered.setdefault(name or "SendRequest", set()).update(value)
        for key, item in value.items():
            yield from walk(item, schema["properties"][key], (*path, key), covered)
    elif isinstance(value, dict):  # a mapping: its keys are strings too
        for key, item in value.items():
            yield (*path, key), True
            yield from walk(item, schema["additionalProperties"], (*path, key), covered)


COVERED: dict[str, set[str]] = {}
STRINGS = list(walk(FULL, SCHEMA, (), COVERED))


def test_the_sample_fills_every_field_of_every_model():
    expected = {"SendRequest": set(SCHEMA["properties"])}
    expected.update({name: set(d["properties"]) for name, d in SCHEMA["$defs"].items()})
    assert expected == COVERED
    assert len(STRINGS) == 20


def with_inserted(path: Path, is_key: bool, char: str) -> dict[str, Any]:
    payload = copy.deepcopy(FULL)
    parent: Any = payload
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if is_key:
        assert isinstance(last, str)
        parent[last[:1] + char + last[1:]] = parent.pop(last)
    else:
        parent[last] = parent[last][:1] + char + parent[last][1:]
    return payload


def error_locations(payload: dict[str, Any]) -> list[Path]:
    with pytest.raises(ValidationError) as caught:
        SendRequest.model_validate(payload)
    return [tuple(error["loc"]) for error in caught.value.errors()]


def _ids(case: tuple[Path, bool]) -> str:
    path, is_key = case
    return ".".join(map(str, path)) + (" (key)" if is_key else "")


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\r\n"], ids=["CR", "LF", "NUL", "CRLF"])
@pytest.mark.parametrize("case", [c for c in STRINGS if c[0] not in BODIES], ids=_ids)
def test_cr_lf_nul_are_refused_in_every_string_field(case: tuple[Path, bool], char: str):
    path, is_key = case
    payload = with_inserted(path, is_key, char)
    locations = error_locations(payload)
    assert len(locations) == 1, locations
    (location,) = locations
    if is_key:
        # A mapping key's error names the key as sent, then "[key]".
        assert location[: len(path) - 1] == path[:-1] and location[-1] == "[key]"
    elif path[0] in ADDRESS_LISTS and len(path) == 2:
        assert location == (*path, "address")  # a bare address means {"address": ...}
    else:
        assert location == path


@pytest.mark.parametrize("body", sorted(BODIES))
def test_bodies_take_line_breaks_but_refuse_nul(body: Path):
    accepted = SendRequest.model_validate(with_inserted(body, False, "\r\n\r\n"))
    assert "\r\n\r\n" in getattr(accepted, str(body[0]))
    assert error_locations(with_inserted(body, False, "\x00")) == [body]


def test_the_full_request_becomes_a_composition():
    request = SendRequest.model_validate(FULL)
    composition = request.to_composition(max_size=1_000_000)
    assert composition.from_addr == NamedAddress("alice@example.com", "Alice")
    assert composition.to == (
        NamedAddress("bob@example.org"),
        NamedAddress("carol@example.org", "Carol"),
    )
    assert composition.bcc == (NamedAddress("erin@example.net"),)
    assert composition.reply_to == (NamedAddress("help@example.com", "Help desk"),)
    assert composition.attachments == (Attachment("report.csv", "text/csv", b"a,b\r\n1,2\r\n"),)
    assert composition.headers == (("X-Campaign", "q3"), ("In-Reply-To", "<parent@example.org>"))
    sent = compose(composition, unique_id="id1", now=datetime(2030, 1, 1, tzinfo=UTC))
    assert sent.recipients == (
        "bob@example.org",
        "carol@example.org",
        "dave@example.org",
        "erin@example.net",
    )
    parsed = parse_message(sent.content)
    assert parsed.subject == "Quarterly report"
    assert parsed.text == "Hello,\r\nthe report is attached.\r\n"
    assert [a.filename for a in parsed.attachments] == ["report.csv"]
    assert b"erin@" not in sent.content


def minimal(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"from": "alice@example.com", "to": ["bob@example.org"], "text": "x"}
    payload.update(fields)
    return payload


@pytest.mark.parametrize(
    "name",
    ["From", "to", "BCC", "Message-ID", "Date", "MIME-Version", "Content-Type",
     "content-transfer-encoding", "Received", "DKIM-Signature", "Authentication-Results",
     "ARC-Seal", "Return-Path", "Subject", "Reply-To", "Sender", "Resent-To"],
)  # fmt: skip
def test_platform_headers_are_refused(name: str):
    assert error_locations(minimal(headers={name: "v"})) == [("headers", name, "[key]")]


@pytest.mark.parametrize("name", ["", "X Y", "X:Y", "X-Ü", "X" * 77])
def test_header_names_must_be_field_names(name: str):
    assert error_locations(minimal(headers={name: "v"})) == [("headers", name, "[key]")]


@pytest.mark.parametrize(
    "address", ["jane", "Jane <jane@example.com>", "jane@exa mple.com", "jäne@example.com", ""]
)
def test_addresses_are_validated(address: str):
    assert error_locations(minimal(to=[address])) == [("to", 0, "address")]
    assert error_locations(minimal(**{"from": {"address": address}})) == [("from", "address")]


def test_recipients_are_capped_and_needed():
    spread = {
        "to": [f"t{n}@example.org" for n in range(50)],
        "cc": [f"c{n}@example.org" for n in range(30)],
        "bcc": [f"b{n}@example.org" for n in range(MAX_RECIPIENTS - 80)],
    }
    assert len(SendRequest.model_validate(minimal(**spread)).bcc) == MAX_RECIPIENTS - 80
    spread["bcc"].append("one-too-many@example.org")
    assert error_locations(minimal(**spread)) == [()]
    assert error_locations(minimal(to=[f"u{n}@example.org" for n in range(101)])) == [("to",)]
    assert error_locations(minimal(to=[])) == [()]


def test_a_body_is_needed():
    payload = minimal()
    del payload["text"]
    assert error_locations(payload) == [()]
    assert SendRequest.model_validate({**payload, "html": "<p>x</p>"}).html == "<p>x</p>"


@pytest.mark.parametrize("content", ["not base64!", "aGk", "aGk=\n", "aG k="])
def test_attachment_content_is_strict_base64(content: str):
    payload = minimal(attachments=[{"filename": "a.bin", "content": content}])
    assert error_locations(payload) == [("attachments", 0, "content")]


@pytest.mark.parametrize("content_type", ["pdf", "multipart/mixed", "message/rfc822", "a/b; c=d"])
def test_attachment_content_type(content_type: str):
    payload = minimal(
        attachments=[{"filename": "a", "content": "aGk=", "content_type": content_type}]
    )
    assert error_locations(payload) == [("attachments", 0, "content_type")]


def test_unknown_fields_are_refused():
    assert error_locations(minimal(tenant_id="t1")) == [("tenant_id",)]
    assert error_locations(minimal(to=[{"address": "b@example.org", "x": 1}])) == [("to", 0, "x")]


def test_filenames_that_read_as_encoded_words_are_refused():
    payload = minimal(attachments=[{"filename": "=?utf-8?q?a?=", "content": "aGk="}])
    assert error_locations(payload) == [("attachments", 0, "filename")]


def test_display_names_that_read_as_encoded_words_are_refused():
    payload = minimal(**{"from": {"address": "a@example.com", "name": "=?utf-8?q?x?="}})
    assert error_locations(payload) == [("from", "name")]


def test_the_size_cap_counts_bodies_and_decoded_attachments():
    payload = minimal(
        text="é" * 10,  # 20 bytes
        html="<p>x</p>",  # 8 bytes
        attachments=[{"filename": "a", "content": base64.b64encode(b"x" * 100).decode()}],
    )
    request = SendRequest.model_validate(payload)
    assert request.to_composition(max_size=128).attachments[0].content == b"x" * 100
    with pytest.raises(InvalidInput, match="128 bytes; the limit is 127"):
        request.to_composition(max_size=127)


# Through the app: the problem handlers turn both kinds of refusal into problem+json.


@pytest.fixture
def send_app(app: FastAPI, settings: Settings) -> FastAPI:
    @app.post("/test-send")
    async def send(request: SendRequest) -> dict[str, Any]:
        composition = request.to_composition(max_size=settings.api.max_send_size)
        return {"recipients": list(composition.recipients)}

    return app


@pytest.mark.in_process_only("adds a test route to the app")
async def test_refusals_through_the_app(send_app: FastAPI, settings: Settings):
    transport = httpx.ASGITransport(app=send_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        ok = await http.post("/test-send", json=minimal(bcc=["Hidden@Example.net"]))
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"recipients": ["bob@example.org", "hidden@example.net"]}

        refused = await http.post("/test-send", json=minimal(subject="Hi\r\nBcc: x@evil.example"))
        problem = assert_problem(refused, 422)
        assert problem["errors"] == [
            {
                "location": "body",
                "field": "subject",
                "pointer": "#/subject",
                "detail": "Value error, the value may not contain line breaks or control "
                "characters (found U+000D)",
            }
        ]
        owned = await http.post("/test-send", json=minimal(headers={"Bcc": "x@evil.example"}))
        assert assert_problem(owned, 422)["errors"][0]["pointer"] == "#/headers/Bcc/[key]"


@pytest.mark.in_process_only("adds a test route to the app")
async def test_the_size_cap_through_the_app(send_app: FastAPI, settings: Settings):
    settings.api.max_send_size = 1000
    transport = httpx.ASGITransport(app=send_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answer = await http.post("/test-send", json=minimal(text="y" * 1001))
    problem = assert_problem(answer, 422)
    assert problem["type"] == "urn:mairust:problem:invalid-input"
    assert "the limit is 1000" in problem["detail"]


@pytest.mark.in_process_only("a spool test in this process: no HTTP call")
async def test_the_composed_message_goes_through_the_spool(stores: Stores):
    """The call the send service makes: request → Composition → compose → Spool.commit."""
    request = SendRequest.model_validate(FULL)
    composition = request.to_composition(max_size=1_000_000)
    spool_id = new_id()
    received_at = datetime.now(UTC)
    sent = compose(composition, unique_id=spool_id, now=received_at)
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    try:
        ref = await spool.commit(
            sent.content,
            Envelope(
                mail_from=sent.mail_from,
                rcpt_tos=sent.recipients,
                received_at=received_at,
                authenticated_as="alice@example.com",
            ),
            message_id=spool_id,
        )
    finally:
        await spool.stop()
    assert ref.id == spool_id
    assert sent.message_id == f"<{spool_id}@example.com>"
    assert stores.blobs.get(ref.blob_key) == sent.content
    queued = stores.metadata.list_queue()
    assert sorted(item.recipient for item in queued) == sorted(sent.recipients)
    assert len(queued) == 4


def test_unsubscribe_needs_exactly_one_recipient():
    one = {"from": "alice@example.com", "to": ["bob@example.org"], "text": "hi"}
    assert SendRequest.model_validate({**one, "unsubscribe": True}).unsubscribe
    composition = SendRequest.model_validate({**one, "unsubscribe": True}).to_composition(
        max_size=1000
    )
    assert composition.unsubscribe
    with pytest.raises(ValidationError, match="exactly one recipient"):
        SendRequest.model_validate({**one, "bcc": ["carol@example.org"], "unsubscribe": True})
