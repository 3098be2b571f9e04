"""Bounce classification: a remote MTA's reply (basic code, enhanced status, text) into one
closed :class:`BounceClass`, so the queue stores *why* a recipient failed and suppression
can tell a dead mailbox from a blocked sender.

The enhanced status decides first (RFC 3463 and the IANA "Enumerated Status Codes"
registry), but only where it is specific and providers use it as registered: ``5.1.1``,
``5.2.2``, ``5.3.4``, ``5.7.26`` ... Generic details (``x.0.0``, ``x.7.1``, ``x.5.0``) and codes
the big providers are known to use for something else (Microsoft's ``5.1.10`` for "recipient
not found", ``5.4.1`` for its directory-based edge block; Yahoo's ``5.7.9`` for policy) go to
the text patterns first and fall back to the registry meaning. With no enhanced code (older
Exim, Yahoo), the text patterns, then the basic code decide. Pure: no I/O, no state.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mairust.outbound.dsn_fields import STATUS_CODE, flatten_reply


class BounceClass(enum.StrEnum):
    UNKNOWN_USER = "unknown_user"  # no such mailbox (or its address is unusable)
    MAILBOX_DISABLED = "mailbox_disabled"  # the mailbox exists but takes no mail
    MAILBOX_FULL = "mailbox_full"  # over quota
    MESSAGE_TOO_LARGE = "message_too_large"
    POLICY = "policy"  # refused by a local rule (relay denied, restricted recipient, HELO ...)
    SPAM_CONTENT = "spam_content"  # the message itself looked like spam or carried malware
    REPUTATION = "reputation"  # the sending IP or domain is blocked, listed or throttled
    RATE_LIMITED = "rate_limited"  # too much mail too fast, without blame on the sender
    BAD_DOMAIN = "bad_domain"  # the recipient's domain does not exist, null MX, no route
    AUTHENTICATION = "authentication"  # SPF / DKIM / DMARC / reverse DNS did not verify us
    TLS_REQUIRED = "tls_required"  # a TLS requirement (theirs, MTA-STS or ours) was not met
    NETWORK = "network"  # no connection, a timeout, a lost session, a DNS failure for now
    TEMPORARY_OTHER = "temporary_other"  # a 4xx with nothing more specific
    OTHER = "other"


# Plain words for each class, for the human part of a DSN and for operators.
DESCRIPTIONS: dict[BounceClass, str] = {
    BounceClass.UNKNOWN_USER: "the recipient's mailbox does not exist",
    BounceClass.MAILBOX_DISABLED: "the recipient's mailbox is disabled and takes no mail",
    BounceClass.MAILBOX_FULL: "the recipient's mailbox is full",
    BounceClass.MESSAGE_TOO_LARGE: "the message is larger than the recipient's server accepts",
    BounceClass.POLICY: "the recipient's server refused the message by its local policy",
    BounceClass.SPAM_CONTENT: "the recipient's server took the message for spam or malware",
    BounceClass.REPUTATION: "the recipient's server blocks or throttles mail from our servers",
    BounceClass.RATE_LIMITED: "the recipient's server receives too much mail right now",
    BounceClass.BAD_DOMAIN: "the recipient's domain does not exist or accepts no mail",
    BounceClass.AUTHENTICATION: "the recipient's server could not verify the sender "
    "(SPF, DKIM, DMARC or reverse DNS)",
    BounceClass.TLS_REQUIRED: "a secure (TLS) connection was required and could not be made",
    BounceClass.NETWORK: "the recipient's server could not be reached",
    BounceClass.TEMPORARY_OTHER: "the recipient's server had a temporary problem",
    BounceClass.OTHER: "the recipient's server refused the message",
}

# Classes whose permanent failure means the address itself is dead: suppress it.
HARD_CLASSES: frozenset[BounceClass] = frozenset(
    {BounceClass.UNKNOWN_USER, BounceClass.MAILBOX_DISABLED, BounceClass.BAD_DOMAIN}
)


@dataclass(frozen=True, slots=True)
class BounceClassification:
    bounce_class: BounceClass
    permanent: bool  # a 5xx reply or a 5.x.x status; network failures are never permanent
    status: str | None = None  # the enhanced status found, "5.1.1"

    @property
    def hard(self) -> bool:
        """A permanent failure that says the address is dead (not a verdict on us)."""
        return self.permanent and self.bounce_class in HARD_CLASSES

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.bounce_class]


_C = BounceClass
# Specific codes used as registered: the class follows from the code alone.
_DEFINITIVE: dict[str, BounceClass] = {
    "5.1.1": _C.UNKNOWN_USER,
    "4.1.1": _C.UNKNOWN_USER,  # Postfix "unverified address": try again, still a bad user
    "5.1.2": _C.BAD_DOMAIN,
    "4.1.2": _C.BAD_DOMAIN,
    "5.1.3": _C.UNKNOWN_USER,
    "5.1.6": _C.UNKNOWN_USER,  # mailbox has moved, no forwarding address
    "5.2.1": _C.MAILBOX_DISABLED,
    "5.2.2": _C.MAILBOX_FULL,
    "4.2.2": _C.MAILBOX_FULL,
    "5.2.3": _C.MESSAGE_TOO_LARGE,
    "5.3.4": _C.MESSAGE_TOO_LARGE,
    "4.4.1": _C.NETWORK,
    "4.4.2": _C.NETWORK,
    "5.4.4": _C.BAD_DOMAIN,
    "5.4.6": _C.BAD_DOMAIN,  # routing loop
    "4.4.7": _C.NETWORK,  # delivery time expired
    "5.4.7": _C.NETWORK,
    "5.7.10": _C.TLS_REQUIRED,
    "5.7.11": _C.TLS_REQUIRED,
    "4.7.10": _C.TLS_REQUIRED,
    "5.7.23": _C.AUTHENTICATION,  # SPF validation failed
    "5.7.24": _C.AUTHENTICATION,  # SPF validation error
    "4.7.24": _C.AUTHENTICATION,
    "5.7.25": _C.AUTHENTICATION,  # reverse DNS validation failed
    "4.7.25": _C.AUTHENTICATION,
    "5.7.26": _C.AUTHENTICATION,  # multiple authentication checks failed
    # The sender's address refused: a fault of ours, never a reason to drop the recipient.
    "5.1.7": _C.POLICY,
    "5.1.8": _C.POLICY,
    "4.1.8": _C.POLICY,
    "5.7.27": _C.POLICY,  # sender address has null MX
    "4.7.28": _C.REPUTATION,  # mail flood detected
    "5.7.28": _C.REPUTATION,
    # Microsoft 365's own three-digit details.
    "5.7.509": _C.AUTHENTICATION,  # DMARC reject
    "5.7.510": _C.POLICY,
    "4.7.650": _C.REPUTATION,  # "temporarily rate limited due to IP reputation"
    "5.7.708": _C.REPUTATION,
    "5.7.750": _C.REPUTATION,
    "5.4.310": _C.BAD_DOMAIN,  # DNS domain does not exist
    "5.4.316": _C.NETWORK,  # expired, connection refused
}
# Microsoft 365 "Access denied, banned sending IP": 5.7.606 to 5.7.649.
_DEFINITIVE.update({f"5.7.{detail}": _C.REPUTATION for detail in range(606, 650)})

# Text patterns, most specific first; the first class with a matching phrase wins.
# fmt: off
_PHRASES: tuple[tuple[BounceClass, tuple[str, ...]], ...] = (
    # TLS before anything else: "530 5.7.0 Must issue a STARTTLS command first".
    (_C.TLS_REQUIRED, (
        r"starttls", r"\btls\b.*(required|not available|handshake)",
        r"encryption (needed|required)", r"mta-sts", r"require_?tls",
    )),
    # Sending quotas (Gmail's "Daily sending quota exceeded") before the mailbox's quota.
    (_C.RATE_LIMITED, (
        r"sending (quota|limit)", r"daily user sending",
        r"too many (messages|recipients|connections)", r"receiving mail at a rate",
        r"rate limit(ed)?\b(?!.*reputation)",
    )),
    # Blocklists, IP or domain reputation, complaint-driven deferrals.
    (_C.REPUTATION, (
        r"block ?list", r"black ?list", r"blocked using", r"listed (at|in|on)", r"spamhaus",
        r"spamcop", r"barracuda", r"sorbs", r"\bRBL\b", r"dnsbl", r"reputation",
        r"banned sending ip", r"\b(RP|SC|DY)-00\d\b", r"\[(TS|TSS)\d\d\]", r"\[BL\d\d\]",
        r"user complaints", r"unexpected volume", r"unusual rate of unsolicited",
        r"not authorized to send email directly", r"traffic not accepted from this ip",
    )),
    # The sender's authentication (before content: Gmail's text says "unsolicited" too).
    (_C.AUTHENTICATION, (
        r"\bspf\b", r"\bdkim\b", r"\bdmarc\b", r"unauthenticated", r"not pass authentication",
        r"authentication (checks|information)", r"ptr record", r"reverse dns", r"\brdns\b",
        r"cannot find your (hostname|reverse)",
    )),
    (_C.SPAM_CONTENT, (
        r"spam", r"unsolicited", r"junk", r"virus", r"malware", r"infected", r"phish",
        r"content (rejected|filter)", r"message content", r"suspicious", r"\bUBE\b",
    )),
    (_C.MAILBOX_FULL, (
        r"mailbox (is )?full", r"over ?quota", r"quota exceeded", r"exceeded (storage|quota)",
        r"insufficient (storage|disk)", r"mailbox.*(size|storage) limit", r"full mailbox",
    )),
    (_C.MESSAGE_TOO_LARGE, (
        r"size limit", r"too (large|big)", r"message size", r"exceeds.*(size|maximum)",
        r"RecipSizeLimit",
    )),
    (_C.MAILBOX_DISABLED, (
        r"(mailbox|account) (is |has been )?(disabled|inactive|suspended|deactivated|locked)",
        r"disabled (mailbox|account)",
    )),
    (_C.UNKNOWN_USER, (
        r"user unknown", r"unknown user", r"no such (user|mailbox|recipient|address)",
        r"(user|mailbox|recipient|address|account)[^.;]{0,40}(does not|doesn't|do not) exist",
        r"does ?n[o']t have a \S+ account", r"RecipientNotFound", r"RecipNotFound",
        r"not our customer", r"recipient not found", r"mailbox not found",
        r"mailbox unavailable", r"invalid (recipient|mailbox)",
        r"unknown (recipient|mailbox|local part)", r"address rejected: access denied",
        r"no mailbox here", r"mailbox name not allowed",
    )),
    (_C.BAD_DOMAIN, (
        r"null mx", r"host or domain name not found", r"domain (name )?not found",
        r"no such domain", r"unrout(e)?able", r"domain does not exist", r"\bno mx\b",
        r"HostUnknown", r"name service error", r"nxdomain", r"loops back to myself",
    )),
    # Our side of the connection.
    (_C.NETWORK, (
        r"timed? ?out", r"timeout", r"connection (refused|reset|closed|lost)",
        r"lost (input )?connection", r"network is unreachable", r"no route to host",
        r"connect to .* failed", r"servfail", r"temporary failure in name resolution",
    )),
    (_C.TEMPORARY_OTHER, (
        r"greylist", r"graylist", r"try again later",
        r"temporar(il)?y (deferred|unavailable|rejected)", r"temporary (local |system )?problem",
        r"service (temporarily )?unavailable", r"system busy", r"resources temporarily",
    )),
    (_C.POLICY, (
        r"relay(ing)? (access )?denied", r"not permitted to relay", r"NotAuthorized",
        r"not authorized", r"access denied", r"administrative prohibition", r"policy",
        r"prohibited", r"not allowed", r"sender (verify|address) (failed|rejected)", r"\bhelo\b",
        r"restricted", r"RESOLVER\.RST",
    )),
)
# fmt: on
_PATTERNS: tuple[tuple[re.Pattern[str], BounceClass], ...] = tuple(
    (re.compile("|".join(phrases), re.IGNORECASE), bounce_class)
    for bounce_class, phrases in _PHRASES
)

# Fallbacks by the enhanced code's subject ("x.1.*") when neither table nor text decided.
_BY_SUBJECT: dict[str, BounceClass] = {
    "1": _C.UNKNOWN_USER,  # addressing status
    "2": _C.OTHER,  # mailbox status (the specific ones are in _DEFINITIVE)
    "3": _C.OTHER,  # mail system status
    "4": _C.NETWORK,  # network and routing status
    "5": _C.OTHER,  # mail delivery protocol status
    "6": _C.OTHER,  # message content or media status
    "7": _C.POLICY,  # security or policy status
}
# Registry meanings of the codes whose text is consulted first.
_AMBIGUOUS_FALLBACK: dict[str, BounceClass] = {
    "5.1.10": _C.BAD_DOMAIN,  # RFC 7505: recipient address has null MX
    "4.2.1": _C.MAILBOX_DISABLED,
    "4.4.3": _C.NETWORK,  # directory server failure (DNS for now)
    "5.4.1": _C.NETWORK,  # no answer from host
    "4.4.5": _C.TEMPORARY_OTHER,  # system congestion
    "5.6.1": _C.OTHER,
}

_REPLY_LINE = re.compile(r"^(\d{3})(?:[ -](.*))?$", re.DOTALL)


def classify_reply(code: int | None, enhanced: str | None, text: str) -> BounceClassification:
    """Classify one failure: a 4xx/5xx reply, or none. ``code`` is the basic reply code
    (None when there was no reply: a connection or DNS failure, described by ``text``);
    ``enhanced`` the enhanced status if the caller has one (else it is looked for at the
    start of ``text``). Our own failures pass ``code=None`` with a status (``4.4.1``)."""
    status = _normalise_status(enhanced) or _find_status(text)
    permanent = _is_permanent(code, status)
    if code is None and status is None:
        bounce_class = _first_pattern(text) or _C.NETWORK
        # With no reply at all only these make sense; anything else is a network failure.
        if bounce_class not in (_C.TLS_REQUIRED, _C.BAD_DOMAIN, _C.NETWORK):
            bounce_class = _C.NETWORK
        return BounceClassification(bounce_class, False, None)
    bounce_class = _classify(code, status, text, permanent)
    return BounceClassification(bounce_class, permanent, status)


def classify_reply_text(reply: str) -> BounceClassification:
    """Classify a reply as the remote sent it, one or several lines (``550-5.1.1 ...`` /
    ``550 5.1.1 ...``), or a Diagnostic-Code value (``smtp; 550 5.1.1 ...``)."""
    body = reply.strip()
    if ";" in body[:16] and not body[:1].isdigit():
        body = body.split(";", 1)[1].strip()
    body = flatten_reply(body)
    match = _REPLY_LINE.match(body)
    if match is None:
        return classify_reply(None, None, body)
    return classify_reply(int(match.group(1)), None, match.group(2).strip())


def _classify(code: int | None, status: str | None, text: str, permanent: bool) -> BounceClass:
    if status is not None and status in _DEFINITIVE:
        return _DEFINITIVE[status]
    found = _first_pattern(text)
    if found is not None:
        return found
    if status is not None:
        fallback = _AMBIGUOUS_FALLBACK.get(status) or _BY_SUBJECT.get(status.split(".")[1])
        if fallback is not None and not (fallback is _C.OTHER and not permanent):
            return fallback
    if code == 552:
        return _C.MAILBOX_FULL  # RFC 5321: "exceeded storage allocation"
    return _C.OTHER if permanent else _C.TEMPORARY_OTHER


def _first_pattern(text: str) -> BounceClass | None:
    for pattern, bounce_class in _PATTERNS:
        if pattern.search(text):
            return bounce_class
    return None


def _normalise_status(enhanced: str | None) -> str | None:
    if not enhanced:
        return None
    match = STATUS_CODE.fullmatch(enhanced.strip())
    if match is None:
        return None
    return ".".join(str(int(part)) for part in match.groups())


def _find_status(text: str) -> str | None:
    """The enhanced status at the start of a reply's text (Gmail's ``5.7.1 [1.2.3.4] ...``);
    a status-shaped number later in the text (an IP, a version) is not taken."""
    match = STATUS_CODE.match(text.lstrip())
    if match is None:
        return None
    return ".".join(str(int(part)) for part in match.groups())


def _is_permanent(code: int | None, status: str | None) -> bool:
    if code is not None and 400 <= code < 500:
        return False
    if code is not None and 500 <= code < 600:
        return True
    return status is not None and status.startswith("5.")
