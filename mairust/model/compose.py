"""Composing outgoing mail: a typed :class:`Composition` in, RFC 5322 bytes out.

What the send API turns a client's JSON into before the spool takes it. Pure: no I/O,
the clock and the unique part of the Message-ID come in as arguments. The stdlib
``email`` package builds the MIME tree under the SMTP policy (CRLF line endings, DESIGN
invariant 6) limited to 7-bit output, so every part is 7bit, quoted-printable or base64
and survives any relay: text+html is multipart/alternative, attachments make it
multipart/mixed, non-ASCII subjects, display names and header values become RFC 2047
encoded-words and attachment names RFC 2231 parameters. Bcc recipients go into the
envelope, never into a header. Every refusal is an :class:`InvalidInput` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage

from mairust.errors import InvalidInput
from mairust.model.address import normalize_address

# RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, so an address at most 254.
MAX_ADDRESS_LENGTH = 254
# RFC 5322 §2.1.1: no line of a message may exceed 998 octets before its CRLF.
MAX_LINE_LENGTH = 998
MAX_HEADER_NAME_LENGTH = 76

# What no header value may hold: line breaks of every kind (str.splitlines() would cut
# the value apart inside the email package), NUL and the other C0/C1 controls but TAB,
# and lone surrogates (they cannot be encoded at all).
_NOT_IN_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# What no body may hold: NUL (RFC 5322 §2.3) and lone surrogates.
_NOT_IN_BODY = re.compile(r"[\x00\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANKS = re.compile(r"[ \t]+")
# RFC 5322 §2.2: field-name = 1*ftext, printable US-ASCII but ":".
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# RFC 6838 §4.2 restricted names, type "/" subtype, without parameters.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ID_LEFT = re.compile(r"[A-Za-z0-9._-]+")

# The SMTP policy writes CRLF; cte_type 7bit makes set_content pick quoted-printable or
# base64 for non-ASCII or long-lined text instead of raw 8bit; refold_source "none" keeps
# the header values folded here (set_raw) as they are, instead of re-parsing them.
_POLICY = policy.SMTP.clone(cte_type="7bit", refold_source="none")

# Headers the platform writes itself (or that only a relay or verifier may write), with
# the field of the composition that sets them where there is one.
_OWNED_HEADERS: dict[str, str | None] = {
    "from": "from",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "reply-to": "reply_to",
    "subject": "subject",
    "sender": None,
    "message-id": None,
    "date": None,
    # The email package reads it as a date (RFC 5322's grammar name for Date:).
    "orig-date": None,
    "mime-version": None,
    "received": None,
    "return-path": None,
    "dkim-signature": None,
    "authentication-results": None,
}
_OWNED_PREFIXES = ("content-", "arc-", "resent-")
# A client may write these itself, unless it asks the platform to (``unsubscribe``).
_UNSUBSCRIBE_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post"})


@dataclass(frozen=True, slots=True)
class NamedAddress:
    """A mailbox as written in a header: an address and an optional display name."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to the message (sent base64-encoded, ``Content-Disposition: attachment``)."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Composition:
    """Everything a client says about the message it wants sent."""

    from_addr: NamedAddress
    to: tuple[NamedAddress, ...] = ()
    cc: tuple[NamedAddress, ...] = ()
    bcc: tuple[NamedAddress, ...] = ()
    reply_to: tuple[NamedAddress, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Extra header fields, in order; never one the platform owns (see check_header_name).
    headers: tuple[tuple[str, str], ...] = ()
    # One-click unsubscribe (RFC 8058): the platform writes List-Unsubscribe and
    # List-Unsubscribe-Post with a link naming the one recipient (the send service makes
    # the pair; see compose); the client may then not write them itself.
    unsubscribe: bool = False

    @property
    def recipients(self) -> tuple[str, ...]:
        """Envelope recipients: To, Cc and Bcc normalised, each once, in that order."""
        found = (normalize_address(a.address) for a in (*self.to, *self.cc, *self.bcc))
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    """What the spool takes: the bytes and their envelope."""

    content: bytes
    mail_from: str
    recipients: tuple[str, ...]
    # The Message-ID header's value, angle brackets included.
    message_id: str
    # It carries a one-click unsubscribe link naming its one recipient.
    unsubscribe: bool = False


def compose(
    composition: Composition,
    *,
    unique_id: str,
    now: datetime,
    unsubscribe_headers: tuple[tuple[str, str], ...] = (),
) -> ComposedMessage:
    """The message ``composition`` describes, dated ``now``, Message-ID ``<unique_id@domain>``.

    ``domain`` is the From address's domain (as an A-label). ``unsubscribe_headers`` are
    the List-Unsubscribe pair when ``composition.unsubscribe`` asks for it (written as
    given: a URL is never folded). Raises InvalidInput when the composition cannot be
    written as a valid message, before anything is built.
    """
    if now.tzinfo is None:
        raise ValueError("compose needs an aware datetime")
    if not _ID_LEFT.fullmatch(unique_id):
        raise ValueError(f"not usable as a Message-ID's left part: {unique_id!r}")
    check_composition(composition)
    if composition.unsubscribe != bool(unsubscribe_headers):
        raise ValueError("unsubscribe headers go with composition.unsubscribe, and only then")
    sender = _header_address(composition.from_addr, "from")
    message_id = f"<{unique_id}@{sender.domain}>"
    msg = EmailMessage(policy=_POLICY)
    msg["Date"] = now
    msg.set_raw("From", _mailbox_text(sender, "From"))
    for name, field, addresses in (
        ("To", "to", composition.to),
        ("Cc", "cc", composition.cc),
        ("Reply-To", "reply_to", composition.reply_to),
    ):
        if addresses:
            texts = (_mailbox_text(_header_address(a, field), name) for a in addresses)
            msg.set_raw(name, ",\r\n ".join(texts))
    if composition.subject:
        _set_unstructured(msg, "Subject", composition.subject)
    msg["Message-ID"] = message_id
    for name, value in unsubscribe_headers:
        msg.set_raw(name, check_single_line(value, name))
    for name, value in composition.headers:
        _set_unstructured(msg, name, value)
    _set_body(msg, composition)
    content = msg.as_bytes()
    if any(len(line) > MAX_LINE_LENGTH for line in content.split(b"\r\n")):
        # Folding and the transfer encodings keep lines short; a line the email package
        # could not fold must not leave as an invalid message.
        raise InvalidInput("the message would have a line longer than 998 octets")
    return ComposedMessage(
        content=content,
        mail_from=normalize_address(composition.from_addr.address),
        recipients=composition.recipients,
        message_id=message_id,
        unsubscribe=composition.unsubscribe,
    )


def canonical_body(text: str) -> str:
    """``text`` as the message carries it: every line break CRLF, ending in one."""
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines) or "\r\n"


def check_composition(composition: Composition) -> None:
    """Raise InvalidInput, naming the field, for the first thing that cannot be sent."""
    groups: tuple[tuple[str, Iterable[NamedAddress]], ...] = (
        ("from", (composition.from_addr,)),
        ("to", composition.to),
        ("cc", composition.cc),
        ("bcc", composition.bcc),
        ("reply_to", composition.reply_to),
    )
    for field, addresses in groups:
        for named in addresses:
            check_address(named.address, field)
            check_display_name(named.name, f"{field} name")
    if not composition.recipients:
        raise InvalidInput("a message needs at least one recipient (to, cc or bcc)")
    if composition.text is None and composition.html is None:
        raise InvalidInput("a message needs a text or an html body")
    check_single_line(composition.subject, "subject")
    for field, body in (("text", composition.text), ("html", composition.html)):
        if body is not None:
            check_body(body, field)
    for attachment in composition.attachments:
        check_filename(attachment.filename)
        check_media_type(attachment.content_type)
    for name, value in composition.headers:
        check_header_name(name)
        check_single_line(value, f"header {name}")
        if composition.unsubscribe and name.lower() in _UNSUBSCRIBE_HEADERS:
            raise InvalidInput(f"the {name} header is written by the `unsubscribe` option")


def check_single_line(value: str, field: str) -> str:
    """``value`` if it holds no line break, NUL or other control character (TAB is fine)."""
    bad = _NOT_IN_LINE.search(value)
    if bad is not None:
        raise InvalidInput(
            f"{field} may not contain line breaks or control characters "
            f"(found U+{ord(bad.group()):04X})"
        )
    return value


def check_display_name(name: str, field: str) -> str:
    """``name`` if it can be written as a display name."""
    check_single_line(name, field)
    if "=?" in name:
        # The email package would decode it as an encoded-word and write what it decoded,
        # line breaks included.
        raise InvalidInput(f"{field} may not contain '=?'")
    return name


def check_filename(filename: str) -> str:
    """``filename`` if an attachment may carry it."""
    check_single_line(filename, "attachment filename")
    if not filename.strip():
        raise InvalidInput("an attachment needs a filename")
    if "=?" in filename:
        # The email package decodes an encoded-word in an ASCII parameter value and writes
        # what it decoded, line breaks included.
        raise InvalidInput("attachment filename may not contain '=?'")
    return filename


def display_name(name: str) -> str:
    """The display name as written: a phrase, whose runs of spaces and tabs are one space
    and whose surrounding white space is nothing (RFC 5322 §3.2.2, §3.4)."""
    return _BLANKS.sub(" ", name).strip()


def check_body(value: str, field: str) -> str:
    """``value`` if it can be a body: any line breaks, but no NUL."""
    bad = _NOT_IN_BODY.search(value)
    if bad is not None:
        raise InvalidInput(f"{field} may not contain U+{ord(bad.group()):04X}")
    return value


def check_header_name(name: str) -> str:
    """``name`` if a client may add a header so named (RFC 5322 syntax, not ours to write)."""
    if len(name) > MAX_HEADER_NAME_LENGTH or not _FIELD_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a header field name (1 to {MAX_HEADER_NAME_LENGTH} printable "
            "ASCII characters, no ':' or space)"
        )
    lowered = name.lower()
    if lowered in _OWNED_HEADERS:
        field = _OWNED_HEADERS[lowered]
        hint = f"; set it with the `{field}` field" if field else ""
        raise InvalidInput(f"the {name} header is written by the platform{hint}")
    if lowered.startswith(_OWNED_PREFIXES):
        raise InvalidInput(f"the {name} header is written by the platform")
    return name


def check_media_type(content_type: str) -> str:
    """``content_type`` if it is a plain ``type/subtype`` an attachment may have."""
    lowered = content_type.lower()
    if not _MEDIA_TYPE.fullmatch(lowered):
        raise InvalidInput(f"{content_type!r} is not a media type (type/subtype)")
    if lowered.startswith(("multipart/", "message/")):
        # Their parts must not be base64-encoded (RFC 2045 §6.4, RFC 2046 §5.2.1).
        raise InvalidInput(f"attachments of type {content_type} are not supported")
    return lowered


def check_address(raw: str, field: str) -> str:
    """``raw`` if it is an address we can write: ASCII local part, host-name domain."""
    _header_address(NamedAddress(raw), field)
    return raw


def _header_address(named: NamedAddress, field: str) -> Address:
    raw = named.address
    check_single_line(raw, field)
    local, at, domain = raw.rpartition("@")
    if len(raw.encode("utf-8")) > MAX_ADDRESS_LENGTH or not at or not local or not domain:
        raise InvalidInput(f"{field}: not a mail address: {raw!r}")
    if not local.isascii():
        raise InvalidInput(f"{field}: non-ASCII local parts (SMTPUTF8) are not supported")
    ascii_domain = _ascii_domain(domain, raw, field)
    try:
        # Parses the local part (dot-atom or quoted string) the way it will be written.
        return Address(display_name(named.name), addr_spec=f"{local}@{ascii_domain}")
    except (ValueError, IndexError) as error:
        raise InvalidInput(f"{field}: not a mail address: {raw!r}") from error


def _ascii_domain(domain: str, raw: str, field: str) -> str:
    try:
        # IDNA 2003 (stdlib): a UTF-8 domain is written as its A-label in headers.
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InvalidInput(f"{field}: not a domain name: {raw!r}") from error
    labels = ascii_domain.split(".")
    if len(ascii_domain) > 253 or not all(_DOMAIN_LABEL.fullmatch(lb) for lb in labels):
        raise InvalidInput(f"{field}: not a domain name: {raw!r}")
    return ascii_domain


def _mailbox_text(address: Address, header: str) -> str:
    """``address`` as header text. Written here, not by the email package: its folder can
    glue an encoded-word to the next word (no reader decodes that) and its parser decodes
    encoded-words found in the text it is given."""
    name = address.display_name
    if not name:
        return address.addr_spec
    if name.isascii():
        # Always quoted: specials and white space runs are then kept as they are.
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = Header(name, "utf-8", header_name=header).encode(linesep="\r\n")
    return f"{phrase} <{address.addr_spec}>"


def _set_unstructured(msg: EmailMessage, name: str, value: str) -> None:
    if value.isascii() and "=?" not in value and value == value.strip():
        msg[name] = value
        return
    # The email package's own folding drops surrounding white space and leaves text that
    # looks like an encoded-word as it is (a reader would decode it); written as UTF-8
    # encoded-words, the value comes back exactly as given.
    msg.set_raw(name, Header(value, "utf-8", header_name=name).encode(linesep="\r\n"))


def _set_body(msg: EmailMessage, composition: Composition) -> None:
    if composition.text is not None:
        msg.set_content(composition.text)
        if composition.html is not None:
            msg.add_alternative(composition.html, subtype="html")
    elif composition.html is not None:
        msg.set_content(composition.html, subtype="html")
    for attachment in composition.attachments:
        maintype, _, subtype = attachment.content_type.lower().partition("/")
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    for part in msg.walk():
        if part is not msg:
            # The email package stamps every part it makes; only the message needs it.
            del part["MIME-Version"]
