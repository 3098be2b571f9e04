"""Bounce classification against replies as the big providers and common MTAs send them.

The reply strings are written from the providers' published error pages and from bounces
as commonly seen (Gmail's "p=" support links, Microsoft 365's RESOLVER.* and 5.7.6xx codes,
Yahoo's [TSS04]/[BL21] tags, Postfix's and Exim's own wordings); no network is used.
"""

from __future__ import annotations

import pytest

from mairust.outbound.bounce_class import (
    DESCRIPTIONS,
    BounceClass,
    classify_reply,
    classify_reply_text,
)

C = BounceClass

# (reply as sent, class, permanent)
REPLIES: list[tuple[str, BounceClass, bool]] = [
    # Gmail
    (
        "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
        "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
        "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
        C.UNKNOWN_USER,
        True,
    ),
    (
        "550-5.2.1 The email account that you tried to reach is disabled.\r\n"
        "550 5.2.1 https://support.google.com/mail/?p=DisabledUser x7si - gsmtp",
        C.MAILBOX_DISABLED,
        True,
    ),
    (
        "452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n"
        "452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
        C.MAILBOX_FULL,
        False,
    ),
    (
        "552-5.2.2 The email account that you tried to reach is over quota and inactive.\r\n"
        "552 5.2.2 https://support.google.com/mail/?p=OverQuotaPerm - gsmtp",
        C.MAILBOX_FULL,
        True,
    ),
    (
        "552-5.3.4 Your message exceeded Google's message size limits. Please visit\r\n"
        "552 5.3.4 https://support.google.com/mail/?p=MaxSizeError - gsmtp",
        C.MESSAGE_TOO_LARGE,
        True,
    ),
    (
        "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n"
        "450 4.2.1 prevents additional messages from being delivered. - gsmtp",
        C.RATE_LIMITED,
        False,
    ),
    (
        "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely\r\n"
        "550-5.7.1 unsolicited mail. To reduce the amount of spam sent to Gmail,\r\n"
        "550 5.7.1 this message has been blocked. - gsmtp",
        C.SPAM_CONTENT,
        True,
    ),
    (
        "421-4.7.28 [192.0.2.1] Our system has detected an unusual rate of\r\n"
        "421 4.7.28 unsolicited mail originating from your IP address. - gsmtp",
        C.REPUTATION,
        False,
    ),
    (
        "421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail\r\n"
        "421 4.7.0 originating from your IP address. To protect our users - gsmtp",
        C.REPUTATION,
        False,
    ),
    (
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\r\n"
        "550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.\r\n"
        "550 5.7.26 https://support.google.com/mail/answer/81126 - gsmtp",
        C.AUTHENTICATION,
        True,
    ),
    (
        "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's\r\n"
        "550 5.7.26 DMARC policy. - gsmtp",
        C.AUTHENTICATION,
        True,
    ),
    (
        "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a\r\n"
        "550 5.7.25 PTR record setup, or the corresponding forward DNS entry does not - gsmtp",
        C.AUTHENTICATION,
        True,
    ),
    (
        "550-5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to\r\n"
        "550 5.7.1 send email directly to our servers. Please use the SMTP relay - gsmtp",
        C.REPUTATION,
        True,
    ),
    ("530 5.7.0 Must issue a STARTTLS command first. a1sm - gsmtp", C.TLS_REQUIRED, True),
    (
        "421-4.3.0 Temporary System Problem.  Try again later (10). - gsmtp",
        C.TEMPORARY_OTHER,
        False,
    ),
    ("550 5.4.5 Daily user sending limit exceeded. - gsmtp", C.RATE_LIMITED, True),
    # Microsoft 365 / Exchange Online / Outlook.com
    (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.com not found "
        "by SMTP address lookup",
        C.UNKNOWN_USER,
        True,
    ),
    ("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", C.UNKNOWN_USER, True),
    (
        "550 5.4.1 Recipient address rejected: Access denied. For more information see "
        "https://aka.ms/EXOSmtpErrors [AM4PEPF00027A5F.eurprd04.prod.outlook.com]",
        C.UNKNOWN_USER,
        True,
    ),
    (
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from "
        "this list please visit https://sender.office.com/",
        C.REPUTATION,
        True,
    ),
    (
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        C.REPUTATION,
        True,
    ),
    (
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
        "reputation.",
        C.REPUTATION,
        False,
    ),
    (
        "550 5.7.509 Access denied, sending domain example.com does not pass DMARC "
        "verification and has a DMARC policy of reject.",
        C.AUTHENTICATION,
        True,
    ),
    (
        "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized to send to this recipient",
        C.POLICY,
        True,
    ),
    (
        "550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient",
        C.MESSAGE_TOO_LARGE,
        True,
    ),
    (
        "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302) "
        "[DB5EUR03FT.eop-EUR03.prod.protection.outlook.com]",
        C.UNKNOWN_USER,
        True,
    ),
    (
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        C.REPUTATION,
        True,
    ),
    (
        "421 RP-001 (BAY004-MC1F32) Unfortunately, some messages from 192.0.2.1 weren't sent. "
        "Please try again. We have limits for how many messages can be sent per hour and per day.",
        C.REPUTATION,
        False,
    ),
    ("554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", C.BAD_DOMAIN, True),
    ("550 5.4.310 DNS domain contoso.com does not exist", C.BAD_DOMAIN, True),
    # Yahoo / AOL
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        C.REPUTATION,
        False,
    ),
    (
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is "
        "in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        C.REPUTATION,
        True,
    ),
    (
        "554 5.7.9 Message not accepted for policy reasons.  See "
        "https://postmaster.yahooinc.com/error-codes",
        C.POLICY,
        True,
    ),
    (
        "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo "
        "requires all senders to authenticate with either SPF or DKIM.",
        C.AUTHENTICATION,
        True,
    ),
    (
        "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) "
        "[0] - mta1161.mail.bf1.yahoo.com",
        C.UNKNOWN_USER,
        True,
    ),
    (
        "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. "
        "This mailbox is disabled (554.30). - mta1016.mail.ne1.yahoo.com",
        C.MAILBOX_DISABLED,
        True,
    ),
    ("552 1 Requested mail action aborted, mailbox not found", C.UNKNOWN_USER, True),
    ("554 30 Sorry, your message size exceeds 41943040 bytes.", C.MESSAGE_TOO_LARGE, True),
    ("451 Message temporarily deferred - [160]", C.TEMPORARY_OTHER, False),
    # Postfix (as the receiving MTA)
    (
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual "
        "mailbox table",
        C.UNKNOWN_USER,
        True,
    ),
    (
        "450 4.1.1 <someone@example.net>: Recipient address rejected: unverified address: "
        "host mx.example.net[192.0.2.9] said: 550 5.1.1 User unknown",
        C.UNKNOWN_USER,
        False,
    ),
    ("554 5.7.1 <someone@example.org>: Relay access denied", C.POLICY, True),
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/192.0.2.1",
        C.REPUTATION,
        True,
    ),
    (
        "450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]",
        C.AUTHENTICATION,
        False,
    ),
    (
        "450 4.2.0 <someone@example.net>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.net.html",
        C.TEMPORARY_OTHER,
        False,
    ),
    ("552 5.3.4 Message size exceeds fixed limit", C.MESSAGE_TOO_LARGE, True),
    (
        "552 5.2.2 <someone@example.net> Quota exceeded (mailbox for user is full)",
        C.MAILBOX_FULL,
        True,
    ),
    (
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
        C.POLICY,
        True,
    ),
    ("550 5.7.1 Message rejected as spam by Content Filtering.", C.SPAM_CONTENT, True),
    (
        "554 5.7.1 <someone@example.net>: Recipient address rejected: Access denied",
        C.UNKNOWN_USER,
        True,
    ),
    ("450 4.1.8 <bounce@example.com>: Sender address rejected: Domain not found", C.POLICY, False),
    ("454 4.7.0 TLS not available due to local problem", C.TLS_REQUIRED, False),
    ("421 4.4.2 mx.example.net Error: timeout exceeded", C.NETWORK, False),
    # Exim (no enhanced codes in older setups)
    ("550 No Such User Here", C.UNKNOWN_USER, True),
    ("550 Unrouteable address", C.BAD_DOMAIN, True),
    ("550 Administrative prohibition", C.POLICY, True),
    ("552 Message size exceeds maximum permitted", C.MESSAGE_TOO_LARGE, True),
    (
        "550 Rejected because 192.0.2.1 is in a black list at zen.spamhaus.org",
        C.REPUTATION,
        True,
    ),
    (
        "550-Verification failed for <bounce@example.com>\r\n550 Sender verify failed",
        C.POLICY,
        True,
    ),
    ("550 High probability of spam", C.SPAM_CONTENT, True),
    ("421 mx.example.net lost input connection", C.NETWORK, False),
    ("451 Temporary local problem - please try later", C.TEMPORARY_OTHER, False),
    (
        "550 SPF: 192.0.2.1 is not allowed to send mail from example.com",
        C.AUTHENTICATION,
        True,
    ),
    ("550 Mailbox quota exceeded", C.MAILBOX_FULL, True),
    # The bare RFC 5321 texts: the basic code decides
    ("552 Requested mail action aborted: exceeded storage allocation", C.MAILBOX_FULL, True),
    ("554 Transaction failed", C.OTHER, True),
    ("451 Requested action aborted: local error in processing", C.TEMPORARY_OTHER, False),
    ("550 5.7.10 Encryption needed", C.TLS_REQUIRED, True),
    ("550 5.1.10 Recipient address has null MX", C.BAD_DOMAIN, True),
    ("553 5.1.3 Bad recipient address syntax", C.UNKNOWN_USER, True),
]


@pytest.mark.parametrize(("reply", "expected", "permanent"), REPLIES, ids=lambda v: str(v)[:40])
def test_real_world_replies(reply: str, expected: BounceClass, permanent: bool) -> None:
    result = classify_reply_text(reply)
    assert (result.bounce_class, result.permanent) == (expected, permanent)


def test_enhanced_code_decides_before_the_text() -> None:
    # The words say "spam", the specific code says the mailbox is full: the code wins.
    result = classify_reply(552, "5.2.2", "mailbox full of spam")
    assert result.bounce_class is C.MAILBOX_FULL
    assert result.status == "5.2.2"


def test_ambiguous_code_falls_back_to_its_registry_meaning() -> None:
    assert classify_reply(550, "5.1.10", "rejected").bounce_class is C.BAD_DOMAIN
    assert classify_reply(550, "5.7.1", "rejected").bounce_class is C.POLICY
    assert classify_reply(451, "4.4.3", "").bounce_class is C.NETWORK


def test_enhanced_code_from_caller_or_from_text() -> None:
    given = classify_reply(550, "5.01.001", "whatever")
    found = classify_reply(550, None, "5.1.1 whatever")
    assert given.status == found.status == "5.1.1"
    assert given.bounce_class is found.bounce_class is C.UNKNOWN_USER


def test_an_ip_address_is_not_an_enhanced_code() -> None:
    result = classify_reply_text("550 Rejected: 5.4.3.2 listed nowhere, go away")
    assert result.status is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("connect to mx.example.net[192.0.2.9]:25: Connection timed out", C.NETWORK),
        ("connect to mx.example.net[192.0.2.9]:25: Connection refused", C.NETWORK),
        ("lost connection with mx.example.net[192.0.2.9] while sending RCPT TO", C.NETWORK),
        (
            "Host or domain name not found. Name service error for name=example.invalid",
            C.BAD_DOMAIN,
        ),
        ("TLS is required, but was not offered by host mx.example.net", C.TLS_REQUIRED),
        ("MTA-STS policy enforce: no MX matched the policy", C.TLS_REQUIRED),
        ("spam content", C.NETWORK),  # no reply at all: only network-side classes apply
    ],
)
def test_no_reply_at_all(text: str, expected: BounceClass) -> None:
    result = classify_reply(None, None, text)
    assert result.bounce_class is expected
    assert result.permanent is False


def test_postfix_diagnostic_codes_with_their_type() -> None:
    smtp = classify_reply_text("smtp; 550 5.1.1 <x@example.net>... User unknown")
    local = classify_reply_text("X-Postfix; connect to mx.example.net: Connection timed out")
    assert (smtp.bounce_class, smtp.permanent) == (C.UNKNOWN_USER, True)
    assert (local.bounce_class, local.permanent) == (C.NETWORK, False)


def test_hard_only_for_permanent_dead_addresses() -> None:
    assert classify_reply(550, "5.1.1", "").hard
    assert not classify_reply(450, "4.1.1", "").hard  # temporary
    assert not classify_reply(550, "5.7.1", "blocked using zen.spamhaus.org").hard  # us, not them


def test_every_class_has_plain_words() -> None:
    assert set(DESCRIPTIONS) == set(BounceClass)
    assert all(DESCRIPTIONS[c].strip() for c in C)
    assert classify_reply(550, "5.1.1", "").description == DESCRIPTIONS[C.UNKNOWN_USER]


def test_every_class_is_reached_by_some_real_reply() -> None:
    reached = {expected for _, expected, _ in REPLIES}
    assert reached == set(BounceClass)


@pytest.mark.parametrize(
    ("status", "text", "expected", "permanent"),
    [
        ("5.1.10", "recipient domain has a null MX", C.BAD_DOMAIN, True),
        ("4.4.1", "connection timed out", C.NETWORK, False),
        ("4.4.3", "DNS SERVFAIL for example.net", C.NETWORK, False),
        ("4.7.5", "MTA-STS enforce: no valid TLS at mx.example.net", C.TLS_REQUIRED, False),
        ("4.4.7", "gave up after 4 days", C.NETWORK, False),
    ],
)
def test_our_own_failures_carry_a_status_and_no_reply(
    status: str, text: str, expected: BounceClass, permanent: bool
) -> None:
    result = classify_reply(None, status, text)
    assert (result.bounce_class, result.permanent, result.status) == (expected, permanent, status)
