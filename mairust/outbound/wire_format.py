"""What MaiRust puts on the wire after DATA, and whether a peer may receive it at all.

Owns four decisions (DESIGN invariant 6, RFC 5321 §2.3.8, §4.5.2, §4.5.3.1.6):

- **Line endings**: every CR, LF and CRLF of the input becomes one CRLF, so the bytes sent
  never hold a bare CR or LF, whatever came in. The last line is ended with CRLF if needed.
- **Dot-stuffing**: a line that starts with "." gets a second one; ``.\\r\\n`` ends the data.
- **Lines over 998 octets** (CRLF excluded) are refused, permanently, with 5.6.0. Folding is
  legal only in headers at whitespace, and re-encoding a body (quoted-printable) changes the
  bytes a DKIM signature already covers; a message that long is broken at its source, so it
  bounces with a reason instead of leaving here altered or being cut by the next hop.
- **8-bit and SMTPUTF8** (RFC 6152 §3, RFC 6531 §3.4): a message with any byte above 0x7F
  goes only to a peer that offers 8BITMIME (sent with ``BODY=8BITMIME``); to one that does
  not, it bounces with 5.6.3. RFC 6152 allows a downgrade to 7 bit instead, but that is a
  MIME re-encoding that breaks DKIM signatures and needs a full MIME rewriter; peers without
  8BITMIME are rare today, so we chose the bounce. Non-ASCII envelope addresses need a peer
  that offers SMTPUTF8 (sent with ``SMTPUTF8``), else 5.6.7: there is no downgrade for an
  address (RFC 6531 §3.2). So do raw UTF-8 header fields (RFC 6532 §3: they travel only in
  an SMTPUTF8 transaction; 8BITMIME covers the body alone): to a peer without SMTPUTF8 the
  message bounces with 5.6.7 (RFC 6531), since a downgrade would rewrite header fields a
  DKIM signature covers.

:func:`normalize` is cheap enough to run once per message per attempt; the spool path may
call it before signing too, so what is signed is what is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mairust.outbound.errors import DeliveryFailure

MAX_LINE_OCTETS = 998  # RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6, without the CRLF
CRLF = b"\r\n"
END_OF_DATA = b".\r\n"

_ANY_LINE_END = re.compile(rb"\r\n|\r|\n")
_UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f<>]")  # a space may be quoted
_XTEXT_SAFE = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})*")
_NOTIFY = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


class LineTooLong(DeliveryFailure):
    """A line exceeds 998 octets: refused, never folded or cut (see the module docstring)."""

    default_code = "5.6.0"


class EightBitRefused(DeliveryFailure):
    """8-bit content for a peer without 8BITMIME (RFC 6152): bounced, not downgraded."""

    default_code = "5.6.3"


class SmtpUtf8Refused(DeliveryFailure):
    """Non-ASCII addresses or header fields for a peer without SMTPUTF8 (RFC 6531, 6532)."""

    default_code = "5.6.7"


class BadAddress(DeliveryFailure):
    """An envelope address that cannot go on a command line (a control character, <, >):
    refused before it could inject a command (5.1.3; 5.1.7 for the sender)."""

    default_code = "5.1.3"


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A message as it goes on the wire before dot-stuffing: CRLF only, each line ≤ 998
    octets, ended by CRLF (or empty). ``eight_bit``: some byte is above 0x7F."""

    data: bytes
    eight_bit: bool

    @property
    def utf8_headers(self) -> bool:
        """Some octet above 0x7F in the header section (RFC 6532 header fields)."""
        if not self.eight_bit:
            return False
        end = self.data.find(b"\r\n\r\n")
        return not (self.data if end < 0 else self.data[:end]).isascii()

    @property
    def size(self) -> int:
        """The octets the SIZE parameter announces (RFC 1870 §3: before stuffing)."""
        return len(self.data)


def to_crlf(raw: bytes) -> bytes:
    """Every CR, LF and CRLF of ``raw`` as one CRLF; a non-empty result ends with CRLF."""
    crlf = raw.count(CRLF)
    if crlf == raw.count(b"\r") == raw.count(b"\n"):
        data = raw  # CRLF already throughout (what the spool keeps): three scans, no copy
    elif b"\r" not in raw:
        data = raw.replace(b"\n", CRLF)
    else:
        data = _ANY_LINE_END.sub(CRLF, raw)
    if data and not data.endswith(CRLF):
        data += CRLF
    return data


def longest_line(data: bytes) -> int:
    """The longest line of CRLF-normalised ``data``, in octets, without its CRLF."""
    return max(map(len, data.split(CRLF)), default=0)


def normalize(raw: bytes) -> WireMessage:
    """``raw`` ready for the wire; LineTooLong (5.6.0) if a line exceeds 998 octets."""
    data = to_crlf(raw)
    # split + max is C-speed; a regex such as [^\r\n]{999} backtracks at every octet.
    if len(data) > MAX_LINE_OCTETS and longest_line(data) > MAX_LINE_OCTETS:
        raise LineTooLong(
            f"a line of the message is {longest_line(data)} octets long; "
            f"at most {MAX_LINE_OCTETS} may be sent (RFC 5322 §2.1.1)"
        )
    return WireMessage(data=data, eight_bit=not data.isascii())


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency plus the end-of-data line, for normalised ``data``."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + END_OF_DATA


def dot_unstuff(stuffed: bytes) -> bytes:
    """What a receiver makes of :func:`dot_stuff`'s output (the inverse, for tests and
    for reading captured sessions). ValueError if the end-of-data line is missing."""
    if not stuffed.endswith(END_OF_DATA) or not (
        stuffed == END_OF_DATA or stuffed.endswith(CRLF + END_OF_DATA)
    ):
        raise ValueError("data does not end with CRLF.CRLF")
    body = stuffed[: -len(END_OF_DATA)]
    if body.startswith(b"."):
        body = body[1:]
    return body.replace(b"\r\n.", b"\r\n")


def needs_smtputf8(addresses: Iterable[str]) -> bool:
    """Some envelope address is not ASCII (an internationalised local part or domain)."""
    return any(not address.isascii() for address in addresses)


def mail_parameters(
    message: WireMessage,
    addresses: Iterable[str],
    *,
    peer_8bitmime: bool,
    peer_smtputf8: bool,
) -> tuple[str, ...]:
    """The MAIL FROM parameters this message needs (``BODY=8BITMIME``, ``SMTPUTF8``), or
    EightBitRefused / SmtpUtf8Refused if the peer cannot take it (both permanent)."""
    params: list[str] = []
    if message.eight_bit:
        if not peer_8bitmime:
            raise EightBitRefused(
                "the message has 8-bit content and the receiving server does not offer "
                "8BITMIME; it is not downgraded (RFC 6152)"
            )
        params.append("BODY=8BITMIME")
    if needs_smtputf8(addresses) or message.utf8_headers:
        if not peer_smtputf8:
            raise SmtpUtf8Refused(
                "an address or a header field is not ASCII and the receiving server does not "
                "offer SMTPUTF8; it is not downgraded (RFC 6531, RFC 6532)"
            )
        params.append("SMTPUTF8")
    return tuple(params)


def check_sender(address: str) -> None:
    """BadAddress (5.1.7) unless ``address`` is safe on a MAIL FROM line ("" is the null
    reverse path)."""
    if _UNSAFE_IN_ADDRESS.search(address):
        raise BadAddress(f"unusable sender address {address!r}", enhanced_code="5.1.7")


def check_recipient(address: str) -> None:
    """BadAddress (5.1.3) unless ``address`` is safe on a RCPT TO line."""
    if not address or _UNSAFE_IN_ADDRESS.search(address):
        raise BadAddress(f"unusable recipient address {address!r}")


def xtext(value: str) -> str:
    """``value`` as RFC 3461 §4 xtext; a value that is valid xtext already is kept, so
    what arrived in a client's ORCPT/ENVID is passed on as it was."""
    if _XTEXT_SAFE.fullmatch(value):
        return value
    return "".join(
        chr(b) if 0x21 <= b <= 0x7E and b not in (0x2B, 0x3D) else f"+{b:02X}"
        for b in value.encode("utf-8")
    )


def dsn_mail_parameters(ret: str | None, envid: str | None) -> tuple[str, ...]:
    """RET and ENVID for MAIL FROM (RFC 3461 §4.3, §4.4); an unknown RET is left out."""
    params: list[str] = []
    if ret and ret.upper() in ("FULL", "HDRS"):
        params.append(f"RET={ret.upper()}")
    if envid:
        params.append(f"ENVID={xtext(envid)}")
    return tuple(params)


def dsn_rcpt_parameters(notify: Iterable[str], orcpt: str | None) -> tuple[str, ...]:
    """NOTIFY and ORCPT for one RCPT TO (RFC 3461 §4.1, §4.2); unknown keywords dropped."""
    params: list[str] = []
    keywords = [word.upper() for word in notify if word.upper() in _NOTIFY]
    if keywords:
        # NEVER stands alone (§4.1); with anything else it is a client's error: keep NEVER.
        params.append("NOTIFY=NEVER" if "NEVER" in keywords else "NOTIFY=" + ",".join(keywords))
    if orcpt:
        kind, semicolon, address = orcpt.partition(";")
        if not semicolon:
            kind, address = "rfc822", orcpt
        params.append(f"ORCPT={kind};{xtext(address)}")
    return tuple(params)
