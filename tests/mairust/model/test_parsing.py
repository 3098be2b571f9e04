from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mairust.model.parsing import parse_message

CORPUS = Path(__file__).resolve().parents[2] / "data" / "mime" / "stalwart-mail-parser"
CORPUS_FILES = sorted(CORPUS.rglob("*.eml"))
# Messages per corpus folder: a lost file or an emptied folder fails the count test.
CORPUS_COUNTS = {"malformed": 23, "rfc": 10, "thirdparty": 20}


def test_summary_fields():
    parsed = parse_message(
        b"From: Alice <Alice@Example.test>\r\nTo: b@x.example, C <c@y.example>\r\n"
        b"Cc: d@z.example\r\nSubject: =?utf-8?q?h=C3=A9llo?= world\r\n"
        b"Date: Tue, 1 Jan 2030 10:00:00 +0000\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n"
    )
    assert parsed.subject == "héllo world"
    assert parsed.from_addr == "alice@example.test"
    assert parsed.to_addrs == ("b@x.example", "c@y.example", "d@z.example")
    assert parsed.date == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert parsed.message_id == "<m1@x>"
    assert ("Subject", "héllo world") in parsed.headers
    assert parsed.text == "body\r\n"
    assert parsed.html is None


def test_undeclared_8bit_text_is_read_as_utf8():
    parsed = parse_message("Subject: x\r\n\r\nGrüße\r\n".encode())
    assert parsed.text == "Grüße\r\n"


def test_multipart_with_html_and_attachment():
    msg = EmailMessage()
    msg["Subject"] = "parts"
    msg.set_content("plain text")
    msg.add_alternative("<p>html text</p>", subtype="html")
    msg.add_attachment(b"\x00" * 1234, maintype="application", subtype="pdf", filename="report.pdf")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text is not None and "plain text" in parsed.text
    assert parsed.html is not None and "<p>html text</p>" in parsed.html
    assert [(a.filename, a.content_type, a.size) for a in parsed.attachments] == [
        ("report.pdf", "application/pdf", 1234)
    ]
    assert "plain text" in parsed.searchable_body


def test_html_only_is_searchable():
    parsed = parse_message(b"Content-Type: text/html\r\n\r\n<b>only html</b>\r\n")
    assert parsed.text is None
    assert "only html" in parsed.searchable_body


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n",
        b"no headers at all",
        b"Subject: =?bogus?x?zz?=\r\nDate: yesterday\r\n\r\n",
        b"From: <<<>>>\r\nTo: ,,,@@@\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary",
    ],
)
def test_malformed_input_never_raises(raw):
    parsed = parse_message(raw)
    assert parsed.date is None  # none of them has a Date: that parses
    assert parsed.attachments == ()


def test_the_whole_corpus_is_run():
    counts = Counter(path.parent.name for path in CORPUS_FILES)
    assert counts == CORPUS_COUNTS
    assert len(CORPUS_FILES) == sum(CORPUS_COUNTS.values())


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES]
)
def test_corpus_message_parses_without_raising(path: Path):
    parsed = parse_message(path.read_bytes())
    assert isinstance(parsed.subject, str)
    assert all(isinstance(v, str) for _, v in parsed.headers)


def test_control_characters_never_reach_summary_fields():
    parsed = parse_message(b"From: a\x00b@x.example\r\nSubject: nul\x00 and bell\x07\r\n\r\nx\r\n")
    assert parsed.subject == "nul and bell"
    assert "\x00" not in parsed.from_addr


@pytest.mark.parametrize(
    "from_header",
    [
        "=?utf-8?q?ceo=40bank=2Eexample?= <attacker@evil.example>",
        "=?utf-8?q?=22ceo=40bank=2Eexample=22_=3Cceo=40bank=2Eexample=3E?= <attacker@evil.example>",
        "=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZSw=?= <attacker@evil.example>",
    ],
    ids=["address as name", "quoted name and angle address", "name with a comma"],
)
def test_an_encoded_display_name_cannot_pose_as_the_address(from_header: str) -> None:
    raw = f"From: {from_header}\r\nTo: x@y.example\r\nSubject: s\r\n\r\nbody\r\n".encode()
    parsed = parse_message(raw)
    assert parsed.from_addr == "attacker@evil.example"
    # the name is still shown decoded where headers are shown
    assert "bank.example" in dict(parsed.headers)["From"]
