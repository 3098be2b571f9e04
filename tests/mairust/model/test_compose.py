"""Composed messages, read back by our parser and by the standard library's."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mairust.errors import InvalidInput
from mairust.model.compose import (
    Attachment,
    ComposedMessage,
    Composition,
    NamedAddress,
    canonical_body,
    compose,
)
from mairust.model.parsing import parse_message

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ALICE = NamedAddress("alice@example.com", "Alice")
BOB = NamedAddress("bob@example.org", "Bob")
PLATFORM_HEADERS = [
    "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Sender", "Message-ID", "Date",
    "MIME-Version", "Received", "Return-Path", "DKIM-Signature", "Authentication-Results",
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
    "ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
    "Resent-From", "Resent-Date",
]  # fmt: skip
NOT_FIELD_NAMES = ["", "X Y", "X:Y", "X-Ü", "X\r\nY", "X\nY", "X\x00Y", "X" * 77, "X\t"]
BAD_ADDRESSES = [
    "no-at-sign",
    "@example.com",
    "jane@",
    "ja ne@example.com",
    "jäne@example.com",
    "jane@exa mple.com",
    "jane@-example.com",
    "jane@example..com",
    "jane@[127.0.0.1]",
    "a..b@example.com",
    "x" * 250 + "@example.com",
    "<jane@example.com>",
    "Jane <jane@example.com>",
]


def make(**fields: Any) -> Composition:
    values: dict[str, Any] = {"from_addr": ALICE, "to": (BOB,), "subject": "Hi", "text": "Hello"}
    values.update(fields)
    return Composition(**values)


def build(**fields: Any) -> ComposedMessage:
    return compose(make(**fields), unique_id="01JTESTID", now=NOW)


def stdlib(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_wire_safe(raw: bytes) -> None:
    """CRLF only, 7-bit only, no line over 998 octets, one header block."""
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\x00" not in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.count(b"MIME-Version:") == 1


def test_text_only():
    sent = build(text="Hello,\nsee you.\n")
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert msg.get_content_type() == "text/plain"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert msg.get_content() == "Hello,\r\nsee you.\r\n"
    parsed = parse_message(sent.content)
    assert parsed.text == "Hello,\r\nsee you.\r\n"
    assert parsed.html is None and parsed.attachments == ()
    assert parsed.subject == "Hi"
    assert parsed.from_addr == "alice@example.com"
    assert parsed.to_addrs == ("bob@example.org",)
    assert parsed.date == NOW
    assert parsed.message_id == sent.message_id == "<01JTESTID@example.com>"
    assert str(msg["From"]) == "Alice <alice@example.com>"
    assert sent.mail_from == "alice@example.com"
    assert sent.recipients == ("bob@example.org",)


def test_html_only():
    sent = build(text=None, html="<p>Hello</p>")
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert msg.get_content_type() == "text/html"
    parsed = parse_message(sent.content)
    assert parsed.text is None
    assert parsed.html == "<p>Hello</p>\r\n"


def test_text_and_html_are_alternatives():
    sent = build(text="Hello", html="<p>Hello</p>")
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and plain.get_content() == "Hello\r\n"
    assert html is not None and html.get_content() == "<p>Hello</p>\r\n"
    parsed = parse_message(sent.content)
    assert (parsed.text, parsed.html) == ("Hello\r\n", "<p>Hello</p>\r\n")


def test_attachments_make_it_mixed():
    blob = bytes(range(256)) * 40
    sent = build(
        html="<p>Hello</p>",
        attachments=(
            Attachment("report.pdf", "application/pdf", blob),
            Attachment("notes.txt", "Text/Plain", "naïve\n".encode()),
        ),
    )
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content() == "Hello\r\n"
    found = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in msg.iter_attachments()
    ]
    assert found == [
        ("report.pdf", "application/pdf", blob),
        ("notes.txt", "text/plain", "naïve\n".encode()),
    ]
    parsed = parse_message(sent.content)
    assert [(a.filename, a.content_type, a.size) for a in parsed.attachments] == [
        ("report.pdf", "application/pdf", len(blob)),
        ("notes.txt", "text/plain", 7),
    ]
    assert (parsed.text, parsed.html) == ("Hello\r\n", "<p>Hello</p>\r\n")


def test_utf8_everywhere():
    sent = build(
        from_addr=NamedAddress("Anais@Bücher.example", "Anaïs Müller, Ph.D."),
        to=(NamedAddress("bob@example.org", "Bøb «le» Bœuf"),),
        reply_to=(NamedAddress("help@example.com", "Служба поддержки"),),
        subject="Grüße aus Köln \u2013 東京 🎉",
        text="Grüße,\n東京 🎉\n",
        html="<p>Grüße \u2013 東京</p>",
        attachments=(Attachment("Résumé 東京.pdf", "application/pdf", b"%PDF-1.7"),),
        headers=(("X-Note", "naïve café"),),
    )
    assert_wire_safe(sent.content)  # 7-bit on the wire: encoded-words, QP, base64
    msg = stdlib(sent.content)
    assert msg["Subject"] == "Grüße aus Köln \u2013 東京 🎉"
    assert msg["From"].addresses[0].display_name == "Anaïs Müller, Ph.D."
    assert msg["From"].addresses[0].addr_spec == "Anais@xn--bcher-kva.example"
    assert msg["To"].addresses[0].display_name == "Bøb «le» Bœuf"
    assert msg["Reply-To"].addresses[0].display_name == "Служба поддержки"
    assert msg["X-Note"] == "naïve café"
    assert sent.message_id == "<01JTESTID@xn--bcher-kva.example>"
    assert sent.mail_from == "anais@bücher.example"
    parsed = parse_message(sent.content)
    assert parsed.subject == "Grüße aus Köln \u2013 東京 🎉"
    assert parsed.text == "Grüße,\r\n東京 🎉\r\n"
    assert parsed.html == "<p>Grüße \u2013 東京</p>\r\n"
    assert parsed.attachments[0].filename == "Résumé 東京.pdf"


def test_long_lines_are_folded_or_encoded():
    long_word = "x" * 3000
    sent = build(
        subject="word " * 199 + "end",
        text=f"{long_word}\n{'é' * 2000}\nshort\n",
        html=f"<p>{long_word}</p>",
        headers=(("X-Token", "t" * 998), ("X-Words", "w " * 499)),
    )
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert msg["Subject"] == "word " * 199 + "end"
    assert msg["X-Token"] == "t" * 998
    assert msg["X-Words"] == "w " * 499
    parsed = parse_message(sent.content)
    assert parsed.text == f"{long_word}\r\n{'é' * 2000}\r\nshort\r\n"
    assert parsed.html == f"<p>{long_word}</p>\r\n"


@pytest.mark.parametrize(
    "subject",
    ["  leading space", "trailing space  ", "=?utf-8?q?not_an_encoded_word?=", "a =?x?= b", "\tt"],
)
def test_subjects_that_need_encoding_come_back_exactly(subject: str):
    sent = build(subject=subject)
    assert_wire_safe(sent.content)
    assert str(stdlib(sent.content)["Subject"]) == subject


def test_line_endings_are_crlf_whatever_the_client_sent():
    sent = build(text="a\nb\rc\r\nd", html="<p>\n</p>\r")
    assert_wire_safe(sent.content)
    parsed = parse_message(sent.content)
    assert parsed.text == "a\r\nb\r\nc\r\nd\r\n"
    assert parsed.html == "<p>\r\n</p>\r\n"


def test_bcc_is_in_the_envelope_never_in_a_header():
    sent = build(
        to=(BOB, NamedAddress("Carol@Example.org")),
        cc=(NamedAddress("dave@example.net"), NamedAddress("BOB@example.org")),
        bcc=(NamedAddress("secret@hidden.example", "Secret Agent"),),
    )
    assert sent.recipients == (
        "bob@example.org",
        "carol@example.org",
        "dave@example.net",
        "secret@hidden.example",
    )
    lowered = sent.content.lower()
    assert b"hidden.example" not in lowered and b"secret" not in lowered
    assert b"\r\nbcc:" not in lowered
    msg = stdlib(sent.content)
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["dave@example.net", "BOB@example.org"]


def test_bcc_alone_is_enough():
    sent = build(to=(), bcc=(BOB,))
    assert sent.recipients == ("bob@example.org",)
    assert b"bob@" not in sent.content


def test_date_and_message_id():
    east = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=9)))
    sent = compose(make(), unique_id="abc.def", now=east)
    msg = stdlib(sent.content)
    assert msg["Date"].datetime == east
    assert msg["Message-ID"] == "<abc.def@example.com>"
    with pytest.raises(ValueError):
        compose(make(), unique_id="x", now=datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        compose(make(), unique_id="a b>", now=NOW)
    with pytest.raises(ValueError):
        compose(make(), unique_id="=?utf-8?q?=0D=0A?=", now=NOW)


@pytest.mark.parametrize("name", PLATFORM_HEADERS + [n.lower() for n in PLATFORM_HEADERS])
def test_platform_headers_are_refused(name: str):
    with pytest.raises(InvalidInput, match="written by the platform"):
        build(headers=(("X-Fine", "1"), (name, "value")))


@pytest.mark.parametrize("name", sorted(HeaderRegistry().registry))
def test_headers_the_email_package_parses_are_all_refused(name: str):
    # Each is structured (addresses, dates, MIME): a client value would be reparsed, or
    # silently emptied, instead of written as given.
    with pytest.raises(InvalidInput, match="written by the platform"):
        build(headers=((name, "value"),))


@pytest.mark.parametrize("name", NOT_FIELD_NAMES)
def test_names_that_are_not_field_names_are_refused(name: str):
    with pytest.raises(InvalidInput, match="not a header field name"):
        build(headers=((name, "value"),))


def test_client_headers_are_written_in_order():
    headers = (
        ("In-Reply-To", "<parent@example.org>"),
        ("References", "<root@example.org> <parent@example.org>"),
        ("List-Unsubscribe", "<mailto:unsubscribe@example.com>"),
        ("X-Campaign", "spring"),
        ("X-Campaign", "again"),
    )
    msg = stdlib(build(headers=headers).content)
    assert [(n, str(msg.get_all(n))) for n, _ in headers[:4]] == [
        ("In-Reply-To", "['<parent@example.org>']"),
        ("References", "['<root@example.org> <parent@example.org>']"),
        ("List-Unsubscribe", "['<mailto:unsubscribe@example.com>']"),
        ("X-Campaign", "['spring', 'again']"),
    ]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("field", ["from_addr", "to", "cc", "bcc", "reply_to"])
def test_bad_addresses_are_refused(field: str, address: str):
    value = NamedAddress(address)
    with pytest.raises(InvalidInput):
        build(**{field: value if field == "from_addr" else (value,)})


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Jane Doe", "Jane Doe"),
        ('Doe, "Jane" (HR) <x@y> \\ ;:', 'Doe, "Jane" (HR) <x@y> \\ ;:'),
        ("  Jane \t  Doe  ", "Jane Doe"),
        ("Zoë Ångström", "Zoë Ångström"),
        ("", ""),
    ],
)
def test_display_names(name: str, shown: str):
    sent = build(
        from_addr=NamedAddress("alice@example.com", name), to=(NamedAddress(BOB.address, name),)
    )
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    for header in ("From", "To"):
        assert msg[header].addresses[0].display_name == shown
    assert parse_message(sent.content).from_addr == "alice@example.com"


def test_long_display_names_are_split_into_encoded_words():
    name = "東京 " * 30 + "Zoë"
    sent = build(from_addr=NamedAddress("alice@example.com", name))
    assert_wire_safe(sent.content)
    # The RFC 2047 decoder: the stdlib's address parser wrongly puts a space between
    # adjacent encoded-words (RFC 2047 §6.2 says to drop the white space between them).
    head = BytesParser(policy=policy.compat32).parsebytes(sent.content, headersonly=True)
    decoded = str(make_header(decode_header(head["From"])))
    assert decoded == f"{name} <alice@example.com>"
    assert head["From"].count("=?utf-8?") > 1


@pytest.mark.parametrize("name", ["=?utf-8?q?x?=", "Jane =?utf-8?b?eA==?= Doe", "ü=?"])
def test_display_names_that_read_as_encoded_words_are_refused(name: str):
    with pytest.raises(InvalidInput, match="=\\?"):
        build(from_addr=NamedAddress("alice@example.com", name))


def test_many_recipients_fold():
    to = tuple(NamedAddress(f"user{n}@example.org", f"User Nümber {n}") for n in range(60))
    sent = build(to=to)
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert [a.addr_spec for a in msg["To"].addresses] == [a.address for a in to]
    assert parse_message(sent.content).to_addrs == tuple(a.address for a in to)


def test_a_message_needs_a_recipient_and_a_body():
    with pytest.raises(InvalidInput, match="recipient"):
        build(to=())
    with pytest.raises(InvalidInput, match="body"):
        build(text=None, html=None)


@pytest.mark.parametrize(
    "content_type", ["pdf", "application/", "a/b; charset=x", "multipart/mixed", "message/rfc822"]
)
def test_attachment_media_types(content_type: str):
    with pytest.raises(InvalidInput):
        build(attachments=(Attachment("a.bin", content_type, b"x"),))


def test_attachment_needs_a_filename():
    with pytest.raises(InvalidInput, match="filename"):
        build(attachments=(Attachment(" ", "text/plain", b"x"),))


# Every string of a composition, found by walking its fields: a field added later is
# covered without anyone listing it here.
FULL = Composition(
    from_addr=NamedAddress("alice@example.com", "Alice"),
    to=(NamedAddress("bob@example.org", "Bob"),),
    cc=(NamedAddress("carol@example.org", "Carol"),),
    bcc=(NamedAddress("dave@example.org", "Dave"),),
    reply_to=(NamedAddress("help@example.com", "Help"),),
    subject="Subject",
    text="Text",
    html="<p>Html</p>",
    attachments=(Attachment("a.txt", "text/plain", b"x"),),
    headers=(("X-Extra", "value"),),
)
BODIES = {"text", "html"}


def string_leaves(value: Any, path: str = "") -> Iterator[tuple[str, Callable[[str], Any]]]:
    """(path, rebuild) for every str in ``value``: rebuild(s) is ``value`` with s there."""
    if isinstance(value, str):
        yield path, lambda s: s
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            inner = getattr(value, field.name)
            for sub, rebuild in string_leaves(inner, f"{path}.{field.name}".lstrip(".")):
                yield sub, _replacing_field(value, field.name, rebuild)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            for sub, rebuild in string_leaves(item, f"{path}.{index}"):
                yield sub, _replacing_item(value, index, rebuild)


def _replacing_field(obj: Any, name: str, rebuild: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda s: dataclasses.replace(obj, **{name: rebuild(s)})


def _replacing_item(items: tuple[Any, ...], index: int, rebuild: Callable[[str], Any]):
    return lambda s: (*items[:index], rebuild(s), *items[index + 1 :])


LEAVES = dict(string_leaves(FULL))


def test_the_sample_fills_every_field():
    # Every field set and not at its default, so the walk below reaches every string.
    for field in dataclasses.fields(Composition):
        assert getattr(FULL, field.name) not in ((), "", None), field.name
    assert len(LEAVES) == 17
    compose(FULL, unique_id="x", now=NOW)


def _with_char(path: str, char: str) -> Composition:
    original = _leaf_value(path)
    return LEAVES[path](original[:1] + char + original[1:])


def _leaf_value(path: str) -> str:
    value: Any = FULL
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\r\n", "\u2028", "\x85", "\x1b"])
@pytest.mark.parametrize("path", sorted(p for p in LEAVES if p not in BODIES))
def test_line_breaks_and_nul_are_refused_in_every_line_field(path: str, char: str):
    with pytest.raises(InvalidInput):
        compose(_with_char(path, char), unique_id="x", now=NOW)


# An encoded-word that decodes to a line break and a header: the email package writes
# what it decodes from text it is given, so compose must never hand it such text as is.
INJECTION = "=?utf-8?q?a=0D=0ABcc:_victim@example.net?="


@pytest.mark.parametrize("prefix", ["", "x ", "ü "])
@pytest.mark.parametrize("path", sorted(p for p in LEAVES if p not in BODIES))
def test_encoded_words_never_inject_a_header(path: str, prefix: str):
    try:
        sent = compose(LEAVES[path](prefix + INJECTION), unique_id="x", now=NOW)
    except InvalidInput:
        return  # refused: nothing written
    assert_wire_safe(sent.content)
    assert re.search(rb"(?im)^bcc:", sent.content) is None
    msg = stdlib(sent.content)
    assert all(part["Bcc"] is None for part in msg.walk())
    assert "victim@example.net" not in sent.recipients


@pytest.mark.parametrize("path", sorted(BODIES))
def test_bodies_take_line_breaks_but_not_nul(path: str):
    sent = compose(_with_char(path, "\r\n\n\r"), unique_id="x", now=NOW)
    assert_wire_safe(sent.content)
    with pytest.raises(InvalidInput):
        compose(_with_char(path, "\x00"), unique_id="x", now=NOW)
    with pytest.raises(InvalidInput):
        compose(_with_char(path, "\ud800"), unique_id="x", now=NOW)


def test_canonical_body():
    assert canonical_body("") == "\r\n"
    assert canonical_body("a") == "a\r\n"
    assert canonical_body("a\n") == "a\r\n"
    assert canonical_body("a\r\rb\n\n") == "a\r\n\r\nb\r\n\r\n"


LINE_CHARS = st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]) | st.just("\t")
BODY_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
# Pieces of encoded-words too, so text that looks like one is tried as well.
line_text = st.lists(
    LINE_CHARS | st.sampled_from(["=?utf-8?q?", "=?utf-8?b?", "?=", "=0D=0A", "_"]), max_size=60
).map("".join)
body_text = st.text(BODY_CHARS, max_size=400) | st.text(st.sampled_from("ab \r\n\t."), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=line_text,
    text=body_text,
    html=st.none() | body_text,
    name=line_text.filter(lambda s: "=?" not in s),
    header=line_text,
    with_attachment=st.booleans(),
)
def test_any_valid_composition_round_trips(
    subject: str, text: str, html: str | None, name: str, header: str, with_attachment: bool
):
    attachments = (Attachment("f.bin", "application/octet-stream", b"\x00\xff"),)
    sent = build(
        subject=subject,
        text=text,
        html=html,
        from_addr=NamedAddress("alice@example.com", name),
        headers=(("X-Value", header),),
        attachments=attachments if with_attachment else (),
    )
    assert_wire_safe(sent.content)
    msg = stdlib(sent.content)
    assert str(msg.get("Subject", "")) == subject
    assert str(msg["X-Value"]) == header
    # The stdlib parser puts a space between adjacent encoded-words of a phrase (RFC 2047
    # §6.2 says to drop it), so names are compared without their white space here; the
    # exact text is pinned by test_display_names.
    shown = msg["From"].addresses[0].display_name
    assert "".join(shown.split()) == "".join(name.split())
    plain = msg.get_body(("plain",))
    assert plain is not None and plain.get_content() == canonical_body(text)
    parsed = parse_message(sent.content)
    assert parsed.text == canonical_body(text)
    assert parsed.html == (canonical_body(html) if html is not None else None)
    # Our parser shows headers with white space runs collapsed, by design.
    assert parsed.subject == " ".join(subject.split())
    assert len(parsed.attachments) == int(with_attachment)


def test_no_bare_line_feed_in_any_case():
    # The hypothesis test above checks it too; this pins one message with every feature.
    raw = compose(FULL, unique_id="x", now=NOW).content
    assert_wire_safe(raw)
    assert re.search(rb"(?<!\r)\n", raw) is None
