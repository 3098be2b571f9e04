"""Replies and capabilities as the client reads them, and settings from the config."""

from __future__ import annotations

import pytest

from mairust.config import OutboundSettings
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.smtp_types import (
    Capabilities,
    ClientSettings,
    Reply,
    SmtpProtocolError,
    TlsPolicy,
)


def test_a_multi_line_reply_keeps_its_text_without_the_enhanced_code() -> None:
    reply = Reply.parse(["550-5.1.1 The mailbox", "550-5.1.1 does not", "550 5.1.1 exist"])
    assert (reply.code, reply.enhanced_code, reply.permanent) == (550, "5.1.1", True)
    assert reply.text == "The mailbox\ndoes not\nexist"
    assert str(reply) == "550 5.1.1 The mailbox / does not / exist"


def test_an_enhanced_code_of_another_class_is_just_text() -> None:
    # RFC 3463: a 4xx reply cannot carry a 5.x.x code; it is not one, then.
    reply = Reply.parse(["451 5.7.1 odd"])
    assert reply.enhanced_code is None and reply.text == "5.7.1 odd"
    assert reply.status == "4.0.0" and not reply.permanent
    assert Reply.parse(["250"]).text == ""


@pytest.mark.parametrize(
    "lines", [[], ["hello"], ["250-a", "251 b"], ["650 no"], ["25 short"], ["abc def"]]
)
def test_what_is_not_a_reply_is_a_protocol_error(lines: list[str]) -> None:
    with pytest.raises(SmtpProtocolError):
        Reply.parse(lines)


def test_a_local_failure_becomes_a_reply_that_says_it_is_ours() -> None:
    reply = Reply.local(DeliveryFailure("no route", enhanced_code="5.4.4"))
    assert (reply.code, reply.enhanced_code, reply.from_peer) == (554, "5.4.4", False)
    assert Reply.local(DeliveryFailure("later")).code == 451


def test_capabilities_from_an_ehlo_reply() -> None:
    reply = Reply.parse(
        [
            "250-mx.example.com at your service",
            "250-SIZE 35882577",
            "250-8BITMIME",
            "250-starttls",
            "250-ENHANCEDSTATUSCODES",
            "250-PIPELINING",
            "250-DSN",
            "250-SMTPUTF8",
            "250 ",
        ]
    )
    caps = Capabilities.from_ehlo(reply)
    assert caps.esmtp and caps.size_limit == 35882577
    assert caps.pipelining and caps.starttls and caps.eight_bit_mime and caps.smtputf8
    assert caps.enhanced_status_codes and caps.dsn
    assert "" not in caps.keywords
    bare = Capabilities.from_ehlo(Reply.parse(["250-mx", "250 SIZE"]))
    assert bare.size_limit == 0 and not bare.pipelining
    assert Capabilities.helo_only().size_limit is None


def test_client_settings_from_the_outbound_section() -> None:
    section = OutboundSettings(tls="required", connect_timeout=7, command_timeout=42)
    settings = ClientSettings.from_settings(section, default_helo="mx.ours.test")
    assert settings.helo_name == "mx.ours.test" and settings.tls is TlsPolicy.REQUIRED
    assert settings.timeouts.connect == 7 and settings.timeouts.data_end == 42
    named = OutboundSettings(helo_name="out.ours.test")
    assert ClientSettings.from_settings(named, default_helo="x").helo_name == "out.ours.test"
