"""Every SMTP reply MaiRust sends, with its enhanced status code (RFC 3463, RFC 5248).

Replies are named constants so a test, a log line and the code that answers all
say the same thing. :func:`with_enhanced_code` gives aiosmtpd's own replies the
code they lack, so a client never sees a bare ``503 Error``.
"""

from __future__ import annotations

import re

from mairust.model.verdict import Source, Verdict, VerdictKind

# -- success ------------------------------------------------------------------
OK = "250 2.0.0 Ok"
SENDER_OK = "250 2.1.0 Sender ok"
RECIPIENT_OK = "250 2.1.5 Recipient ok"
AUTH_SUCCEEDED = "235 2.7.0 Authentication successful"


def queued(message_id: str) -> str:
    """The 250 after DATA: only sent once the message is durable (DESIGN invariant 1)."""
    return f"250 2.0.0 Ok: queued as {message_id}"


# -- envelope refusals ------------------------------------------------------------
BAD_SENDER_ADDRESS = "553 5.1.3 Malformed sender address"
BAD_RECIPIENT_ADDRESS = "553 5.1.3 Malformed recipient address"
ADDRESS_TOO_LONG = "501 5.5.4 Address too long"
NON_ASCII_NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address requires SMTPUTF8"
RELAY_DENIED = "554 5.7.1 Relay access denied"
UNKNOWN_USER = "550 5.1.1 Recipient address rejected: user unknown"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
# RFC 3463 X.2.2: the mailbox is over its quota; a transient refusal, it may empty.
MAILBOX_FULL = "452 4.2.2 Mailbox full"
# A routing rule forwards the recipient to another server, and this server has no
# forwarder (SRS and ARC) configured; a relay rule's recipients are queued for their host.
ROUTED_ELSEWHERE = (
    "451 4.3.5 Recipient is forwarded to another server, but forwarding is not enabled"
)
# A bounce to an SRS address of ours whose hash or day stamp does not hold: no such address.
BAD_SRS_ADDRESS = "550 5.1.1 Recipient address rejected: invalid or expired SRS address"
# The sender of mail to a forwarding address cannot be rewritten by SRS (RFC 5321 limits).
SENDER_NOT_FORWARDABLE = "550 5.1.7 Sender address cannot be rewritten for forwarding"
# RFC 5321 §6.3: a message to be forwarded that has been through too many hops is looping.
FORWARDING_LOOP = "554 5.4.6 Too many hops: mail forwarding loop"
# The recipient domain's own policy: its per-minute allowance, its largest message.
DOMAIN_RATE_LIMITED = "450 4.7.1 Too much mail for this domain right now, try again later"
TOO_BIG_FOR_DOMAIN = "552 5.3.4 Message size exceeds the recipient domain's limit"

# -- content refusals ---------------------------------------------------------------
MESSAGE_TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
EMPTY_MESSAGE = "554 5.6.0 Message has no content"

# -- authentication -------------------------------------------------------------------
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_TEMP_FAILURE = "454 4.7.0 Temporary authentication failure"


def submit_elsewhere(domain: str, hint: str) -> str:
    """AUTH for an address of a tenant homed in another region: this region holds no
    account of it (the directory is not replicated), so the client is told where to go;
    permanent, since asking here again never works. ``hint`` comes from the regions
    config (:meth:`mairust.regions.Regions.submission_hint`)."""
    return f"535 5.7.0 Accounts of {domain} are not kept in this region: {hint}"


# STARTTLS on a connection that is TLS already (Postfix's words).
TLS_ALREADY_ACTIVE = "554 5.5.1 Error: TLS already active"
# An authenticated client sends as an address outside its tenant's domains (one reply for
# a domain of another tenant and one that is not ours: neither is told apart).
SENDER_NOT_OWNED = "553 5.7.1 Sender address rejected: not a domain of your account"
# An authenticated client submits new mail: bounces (<>) are the MTA's own to send.
NULL_SENDER_NOT_ALLOWED = "553 5.7.1 Sender address rejected: <> is not allowed after AUTH"

# -- our side is not well ---------------------------------------------------------------
TEMP_FAILURE = "451 4.3.0 Temporary failure, please try again later"

# Authentication (RFC 7372 codes where it names one).
SPF_REJECTED = "550 5.7.23 SPF validation failed"
DMARC_REJECTED = "550 5.7.1 Rejected by the sender domain's DMARC policy"
AUTH_DNS_TEMPFAIL = "451 4.4.3 Temporary DNS failure while authenticating the sender"
# A verdict that refuses without a reply of its own, from no check above.
POLICY_REJECTED = "550 5.7.1 Message rejected by policy"
POLICY_TEMPFAIL = "451 4.7.1 Message deferred by policy, please try again later"
# A discard verdict: the client hears a success; nothing is kept, by decision.
DISCARDED = "250 2.0.0 Ok"

# The one table from a refusing verdict to its reply when the verdict brings none that fits
# its class (``Verdict.own_reply``): by kind and source, then by kind alone.
_REFUSALS: dict[tuple[VerdictKind, str], str] = {
    (VerdictKind.REJECT, Source.SPF): SPF_REJECTED,
    (VerdictKind.REJECT, Source.DMARC): DMARC_REJECTED,
    (VerdictKind.TEMPFAIL, Source.DNS): AUTH_DNS_TEMPFAIL,
}
_REFUSAL_OF_KIND = {VerdictKind.REJECT: POLICY_REJECTED, VerdictKind.TEMPFAIL: POLICY_TEMPFAIL}


def reply_for(verdict: Verdict) -> str | None:
    """The refusal a verdict answers with; None when the transaction goes on (continue,
    accept, quarantine; discard is the DATA step's to answer)."""
    if not verdict.refuses:
        return None
    own = verdict.own_reply()
    if own is not None:
        return own
    return _REFUSALS.get((verdict.kind, verdict.source), _REFUSAL_OF_KIND[verdict.kind])


SHUTTING_DOWN = "421 4.3.2 Service shutting down"

# Default enhanced code per basic reply code, used when a reply line has none.
_DEFAULT_ENHANCED = {
    "421": "4.3.0",
    "450": "4.2.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "454": "4.7.0",
    "455": "4.5.4",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "521": "5.3.2",
    "530": "5.7.0",
    "534": "5.7.9",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "551": "5.1.6",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}

# aiosmtpd's fixed success replies outside greeting and HELO/EHLO (RFC 2034 §3 wants a
# code on every other 2xx once ENHANCEDSTATUSCODES is advertised). A HELO reply is
# "250 <hostname>", so only whole texts or prefixes no host name can have are matched.
_SUCCESS_EXACT = frozenset({"250 OK", "221 Bye", "220 Ready to start TLS"})
_SUCCESS_PREFIXES = ("252 Cannot VRFY ", "250 Supported commands: ", "250 Syntax: ")

_REPLY_LINE = re.compile(r"(?P<code>[245]\d\d)(?P<sep>[ -]|$)(?P<text>.*)", re.DOTALL)
_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")


def with_enhanced_code(reply: str) -> str:
    """``reply`` with the default enhanced code added to each 4xx/5xx line that lacks one.

    Multi-line replies (lines joined by CRLF) are treated line by line. Lines that
    carry a code already, 3xx continuations, the greeting and HELO/EHLO lines are
    returned unchanged, as are aiosmtpd's fixed 2xx replies except for gaining 2.0.0.
    """
    if "\r\n" in reply:
        return "\r\n".join(with_enhanced_code(line) for line in reply.split("\r\n"))
    match = _REPLY_LINE.match(reply)
    if match is None:
        return reply
    code, sep, text = match["code"], match["sep"] or " ", match["text"]
    if _ENHANCED.match(text):
        return reply
    if code[0] == "2":
        enhanced = _success_code(reply)
    else:
        enhanced = _DEFAULT_ENHANCED.get(code, f"{code[0]}.0.0")
    if enhanced is None:
        return reply
    return f"{code}{sep}{enhanced} {text}".rstrip()


def _success_code(reply: str) -> str | None:
    if reply in _SUCCESS_EXACT or reply.startswith(_SUCCESS_PREFIXES):
        return "2.0.0"
    return None


def recipient_suppressed(reason: str) -> str:
    """A submitter's recipient its account must not send to (its suppression list)."""
    return f"550 5.7.1 Recipient is on this account's suppression list ({reason})"


# RFC 3463 X.3.1: the disk under the spool or the store is full (or below its floor);
# transient: the client keeps the message and tries again once there is room.
INSUFFICIENT_STORAGE = "452 4.3.1 Insufficient system storage"

# -- limits on what a client sends (docs/security: limits) ------------------------------
# aiosmtpd's own words for an overlong command line and an overlong line in DATA (RFC 5321
# §4.5.3.1.4, §4.5.3.1.6 and §4.5.3.1.10), as they leave with_enhanced_code.
COMMAND_LINE_TOO_LONG = "500 5.5.2 Command line too long"
TEXT_LINE_TOO_LONG = "500 5.5.2 Line too long (see RFC5321 4.5.3.1.6)"
# SIZE= at MAIL over max_message_size, and more DATA than that.
DECLARED_SIZE_TOO_BIG = "552 5.3.4 Error: message size exceeds fixed maximum message size"
TOO_MUCH_MAIL_DATA = "552 5.3.4 Error: Too much mail data"
# The header and MIME scan at the end of DATA (smtp/content_limits.py).
HEADER_TOO_BIG = "552 5.3.4 Message header exceeds fixed limit"
HEADER_FIELD_TOO_BIG = "552 5.3.4 A header field exceeds fixed limit"
TOO_MANY_HEADER_FIELDS = "552 5.3.4 Too many header fields"
MIME_TOO_DEEP = "554 5.6.0 MIME parts nested too deeply"
TOO_MANY_MIME_PARTS = "554 5.6.0 Too many MIME parts"
# Too many AUTH failures on this connection or from this client address (RFC 4954 §4:
# the server may close the connection); sent after the tarpit delay.
TOO_MANY_AUTH_FAILURES = "421 4.7.0 Too many authentication failures, closing connection"
# RFC 4954 §4's own words for an AUTH response line past the limit (12288 octets).
AUTH_LINE_TOO_LONG = "500 5.5.6 Authentication Exchange line is too long"

# Admission at the edge (mairust.smtp.admission): connections, time, rates, early talkers.
EARLY_TALKER = "554 5.5.1 Protocol error: talking before the greeting"
RATE_LIMITED_CLIENT = "450 4.7.1 Message rate limit exceeded for this client, try again later"
RATE_LIMITED_TENANT = "450 4.7.1 Message rate limit exceeded for this account, try again later"


def too_many_connections(hostname: str, whose: str) -> str:
    """Refused at connect: ``whose`` says which count is full ("in total", "from your IP")."""
    return f"421 4.7.0 {hostname} Too many connections {whose}, try again later"


def timed_out(hostname: str, what: str) -> str:
    """The connection is closed for time: ``what`` is the limit ("command timeout", ...)."""
    return f"421 4.4.2 {hostname} Error: {what} exceeded, closing connection"
