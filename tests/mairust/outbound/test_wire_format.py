"""The bytes we emit: CRLF only, dot-stuffed, line limits, 8BITMIME / SMTPUTF8 decisions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mairust.outbound.wire_format import (
    BadAddress,
    EightBitRefused,
    LineTooLong,
    SmtpUtf8Refused,
    WireMessage,
    check_recipient,
    check_sender,
    dot_stuff,
    dot_unstuff,
    dsn_mail_parameters,
    dsn_rcpt_parameters,
    mail_parameters,
    normalize,
    to_crlf,
    xtext,
)

BARE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")

# Bytes rich in the characters that matter: CR, LF, dots, 8-bit.
_WIRE_BYTES = st.lists(
    st.sampled_from([b"\r", b"\n", b"\r\n", b".", b"..", b"a", b" ", b"\xc3\xa9", b"\x00"]),
    max_size=60,
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_WIRE_BYTES, st.binary(max_size=300)))
def test_emitted_bytes_never_hold_a_bare_cr_or_lf_and_unstuff_to_the_normalised_input(
    raw: bytes,
) -> None:
    message = normalize(raw)
    wire = dot_stuff(message.data)
    assert BARE_CR_OR_LF.search(wire) is None
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    # The only line that is a lone dot is the end-of-data line.
    assert b"\r\n.\r\n" not in wire[:-3] and not wire[:-3].startswith(b".\r\n")
    assert dot_unstuff(wire) == message.data
    # Normalising is idempotent: what we normalised once is left alone.
    assert to_crlf(message.data) == message.data


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\nb", b"a\r\nb\r\n"),
        (b"a\rb\r", b"a\r\nb\r\n"),
        (b"a\r\r\nb\r\n", b"a\r\n\r\nb\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb\r\n"),
        (b"", b""),
    ],
)
def test_every_line_ending_becomes_one_crlf(raw: bytes, expected: bytes) -> None:
    assert to_crlf(raw) == expected


def test_dot_stuffing_doubles_leading_dots_only() -> None:
    assert dot_stuff(b".hidden\r\nmid.dle\r\n.\r\n") == b"..hidden\r\nmid.dle\r\n..\r\n.\r\n"
    assert dot_stuff(b"") == b".\r\n"


def test_a_line_of_998_octets_passes_and_one_of_999_is_refused_with_5_6_0() -> None:
    assert normalize(b"x" * 998 + b"\nshort\n").data.startswith(b"x" * 998 + b"\r\n")
    with pytest.raises(LineTooLong) as refused:
        normalize(b"Subject: hi\n\n" + b"y" * 999 + b"\n")
    assert refused.value.enhanced_code == "5.6.0"
    assert refused.value.permanent
    assert "999" in str(refused.value)


def test_a_bare_cr_does_not_hide_a_long_line() -> None:
    # Two 600-octet halves joined by a bare CR are two lines once normalised: fine.
    assert normalize(b"a" * 600 + b"\r" + b"b" * 600).data.count(b"\r\n") == 2


def test_ascii_mail_needs_no_parameters_even_from_a_plain_peer() -> None:
    message = normalize(b"Subject: hi\r\n\r\nplain\r\n")
    assert not message.eight_bit
    params = mail_parameters(
        message, ["a@example.com", "b@example.net"], peer_8bitmime=False, peer_smtputf8=False
    )
    assert params == ()


def test_8bit_content_goes_with_body_8bitmime_or_bounces_with_5_6_3() -> None:
    message = normalize("Subject: cafe\r\n\r\nnaïve\r\n".encode())
    assert message.eight_bit and not message.utf8_headers
    assert mail_parameters(message, ["a@example.com"], peer_8bitmime=True, peer_smtputf8=False) == (
        "BODY=8BITMIME",
    )
    with pytest.raises(EightBitRefused) as refused:
        mail_parameters(message, ["a@example.com"], peer_8bitmime=False, peer_smtputf8=True)
    assert refused.value.enhanced_code == "5.6.3"
    assert refused.value.permanent


def test_non_ascii_addresses_need_smtputf8_or_bounce_with_5_6_7() -> None:
    message = WireMessage(data=b"Subject: x\r\n\r\nx\r\n", eight_bit=False)
    addresses = ["sender@example.com", "jöran@exämple.se"]
    assert mail_parameters(message, addresses, peer_8bitmime=True, peer_smtputf8=True) == (
        "SMTPUTF8",
    )
    with pytest.raises(SmtpUtf8Refused) as refused:
        mail_parameters(message, addresses, peer_8bitmime=True, peer_smtputf8=False)
    assert refused.value.enhanced_code == "5.6.7"


def test_utf8_header_fields_need_smtputf8_or_bounce_with_5_6_7() -> None:
    message = normalize("Subject: café\r\n\r\nplain\r\n".encode())
    assert message.utf8_headers
    addresses = ["sender@example.com", "b@example.net"]
    assert mail_parameters(message, addresses, peer_8bitmime=True, peer_smtputf8=True) == (
        "BODY=8BITMIME",
        "SMTPUTF8",
    )
    with pytest.raises(SmtpUtf8Refused) as refused:
        mail_parameters(message, addresses, peer_8bitmime=True, peer_smtputf8=False)
    assert refused.value.enhanced_code == "5.6.7" and refused.value.permanent


def test_unstuffing_refuses_data_without_its_end_line() -> None:
    with pytest.raises(ValueError, match=r"CRLF\.CRLF"):
        dot_unstuff(b"abc\r\n")
    with pytest.raises(ValueError, match=r"CRLF\.CRLF"):
        dot_unstuff(b"abc.\r\n")


@pytest.mark.parametrize("address", ["a@b.test\r\nQUIT", "a@b>", "<a@b.test", "a\x00@b.test"])
def test_addresses_that_would_break_the_command_line_are_refused(address: str) -> None:
    with pytest.raises(BadAddress) as refused:
        check_recipient(address)
    assert refused.value.enhanced_code == "5.1.3"
    with pytest.raises(BadAddress) as sender:
        check_sender(address)
    assert sender.value.enhanced_code == "5.1.7"


def test_ordinary_addresses_pass() -> None:
    check_sender("")  # the null reverse path
    check_recipient('"john doe"@example.com')
    check_recipient("jöran@exämple.se")
    with pytest.raises(BadAddress):
        check_recipient("")


def test_xtext_encodes_what_it_must_and_keeps_what_is_encoded() -> None:
    assert xtext("id 1+=") == "id+201+2B+3D"
    assert xtext("id+201") == "id+201"  # valid xtext already: passed on as it came
    assert xtext("é") == "+C3+A9"


def test_dsn_parameters() -> None:
    assert dsn_mail_parameters("full", "abc") == ("RET=FULL", "ENVID=abc")
    assert dsn_mail_parameters("bogus", None) == ()
    assert dsn_rcpt_parameters(["success", "delay"], "a@b.test") == (
        "NOTIFY=SUCCESS,DELAY",
        "ORCPT=rfc822;a@b.test",
    )
    assert dsn_rcpt_parameters(["NEVER", "SUCCESS"], None) == ("NOTIFY=NEVER",)
    assert dsn_rcpt_parameters(["whatever"], "rfc822;a b@c") == ("ORCPT=rfc822;a+20b@c",)
    assert dsn_rcpt_parameters((), None) == ()
