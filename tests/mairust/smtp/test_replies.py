"""Reply constants and the default enhanced codes (RFC 3463)."""

from __future__ import annotations

import re

import pytest

from mairust.model.verdict import Source, Verdict, VerdictKind
from mairust.smtp import replies
from mairust.smtp.replies import queued, with_enhanced_code

REPLY = re.compile(r"([245])\d\d [245]\.\d{1,3}\.\d{1,3} \S.*")


def test_every_reply_constant_has_a_matching_enhanced_code() -> None:
    constants = {
        name: value
        for name, value in vars(replies).items()
        if name.isupper() and isinstance(value, str) and not name.startswith("_")
    }
    assert len(constants) >= 15
    for name, value in constants.items():
        match = REPLY.fullmatch(value)
        assert match, name
        # The class digit of the enhanced code is the first digit of the reply code.
        assert value[4] == match.group(1), name
        assert with_enhanced_code(value) == value, name


def test_named_replies_say_what_the_brief_says() -> None:
    assert replies.RELAY_DENIED == "554 5.7.1 Relay access denied"
    assert replies.TOO_MANY_RECIPIENTS == "452 4.5.3 Too many recipients"
    assert replies.MESSAGE_TOO_BIG == "552 5.3.4 Message size exceeds fixed limit"
    assert replies.EMPTY_MESSAGE == "554 5.6.0 Message has no content"
    assert replies.UNKNOWN_USER.startswith("550 5.1.1 ")
    assert replies.TEMP_FAILURE.startswith("451 4.3.0 ")
    assert replies.SENDER_OK.startswith("250 2.1.0 ")
    assert replies.RECIPIENT_OK.startswith("250 2.1.5 ")


def test_queued_names_the_message() -> None:
    assert queued("01ABC") == "250 2.0.0 Ok: queued as 01ABC"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("500 Error: bad syntax", "500 5.5.2 Error: bad syntax"),
        ("501 Syntax: HELO hostname", "501 5.5.4 Syntax: HELO hostname"),
        ("502 EXPN not implemented", "502 5.5.1 EXPN not implemented"),
        ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
        ("504 Unrecognized", "504 5.5.4 Unrecognized"),
        (
            "530 Must issue a STARTTLS command first",
            "530 5.7.0 Must issue a STARTTLS command first",
        ),
        ("552 Error: Too much mail data", "552 5.3.4 Error: Too much mail data"),
        ("553 Error: malformed address", "553 5.1.3 Error: malformed address"),
        ("554 Command refused", "554 5.0.0 Command refused"),
        ("421 Closing", "421 4.3.0 Closing"),
        ("451 Try later", "451 4.3.0 Try later"),
        ("452 Full", "452 4.3.1 Full"),
        ("454 TLS not available", "454 4.7.0 TLS not available"),
        ("599 Odd", "599 5.0.0 Odd"),
        ("503", "503 5.5.1"),
    ],
)
def test_default_code_is_added_to_errors(reply: str, expected: str) -> None:
    assert with_enhanced_code(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "553 5.1.3 Error: malformed address",
        "421 4.7.0 MAIL sent too many times",
        "220 mx.example.test MaiRust ESMTP",
        "250 mx.example.test",
        "250 OKAY.example.test",
        "250-SIZE 1000",
        "250 HELP",
        "354 End data with <CR><LF>.<CR><LF>",
        "334 VXNlciBOYW1lAA==",
        "not a reply at all",
    ],
)
def test_replies_that_need_nothing_are_unchanged(reply: str) -> None:
    assert with_enhanced_code(reply) == reply


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("250 OK", "250 2.0.0 OK"),
        ("221 Bye", "221 2.0.0 Bye"),
        ("220 Ready to start TLS", "220 2.0.0 Ready to start TLS"),
        ("252 Cannot VRFY user, but will accept", "252 2.0.0 Cannot VRFY user, but will accept"),
        ("250 Supported commands: DATA EHLO", "250 2.0.0 Supported commands: DATA EHLO"),
    ],
)
def test_aiosmtpd_fixed_success_replies_gain_2_0_0(reply: str, expected: str) -> None:
    assert with_enhanced_code(reply) == expected


def test_multi_line_replies_are_coded_line_by_line() -> None:
    assert with_enhanced_code("550-First line\r\n550-5.7.1 Second\r\n550 Last") == (
        "550-5.0.0 First line\r\n550-5.7.1 Second\r\n550 5.0.0 Last"
    )


# -- the one table from a verdict to its reply -------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "reply"),
    [
        (Verdict(VerdictKind.REJECT, Source.SPF), replies.SPF_REJECTED),
        (Verdict(VerdictKind.REJECT, Source.DMARC), replies.DMARC_REJECTED),
        (Verdict(VerdictKind.TEMPFAIL, Source.DNS), replies.AUTH_DNS_TEMPFAIL),
        (Verdict(VerdictKind.REJECT, "a-plugin"), replies.POLICY_REJECTED),
        (Verdict(VerdictKind.TEMPFAIL, "a-plugin"), replies.POLICY_TEMPFAIL),
        # A plugin's own reply within its class; outside it, the table's.
        (Verdict(VerdictKind.REJECT, "p", reply="554 5.7.1 Spam"), "554 5.7.1 Spam"),
        (Verdict(VerdictKind.REJECT, "p", reply="421 4.7.0 Bye"), replies.POLICY_REJECTED),
        (Verdict(VerdictKind.CONTINUE), None),
        (Verdict(VerdictKind.ACCEPT, "p", reply="550 5.7.1 x"), None),
        (Verdict(VerdictKind.QUARANTINE, Source.DMARC), None),
        (Verdict(VerdictKind.DISCARD, "p"), None),
    ],
)
def test_reply_for_a_verdict(verdict: Verdict, reply: str | None) -> None:
    assert replies.reply_for(verdict) == reply


def test_every_refusal_the_table_gives_has_an_enhanced_code_of_its_class() -> None:
    for kind in (VerdictKind.REJECT, VerdictKind.TEMPFAIL):
        for source in (*Source, "a-plugin"):
            reply = replies.reply_for(Verdict(kind, source))
            assert reply is not None
            code, enhanced = reply.split()[:2]
            assert code[0] == enhanced[0] == ("5" if kind is VerdictKind.REJECT else "4")
