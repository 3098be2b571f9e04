"""The header fields authentication reads and writes: ``Authentication-Results`` and friends.

- ``authentication_results`` turns an ``AuthResults`` into ONE ``Authentication-Results``
  value (RFC 8601, built with ``authres``), folded to lines of at most 78 characters.
- ``strip_forged_results`` removes every ``Authentication-Results`` field that claims our
  authserv-id before we add ours (RFC 8601 §5), so a sender cannot forge our verdicts.
- ``prepend_header`` adds a field on top without touching a byte of the rest.
- ``split_header_fields`` / ``header_values`` read the header section as it is on the wire.

Everything works on bytes; the body is never parsed, decoded or re-encoded.
"""

from __future__ import annotations

import re

from authres import AuthenticationResult  # type: ignore[import-untyped]
from authres.core import (  # type: ignore[import-untyped]
    AuthenticationResultProperty,
    AuthenticationResultsHeader,
)

from mairust.auth.results import (
    ArcResult,
    AuthResults,
    DkimResult,
    DkimWord,
    DmarcResult,
    SpfResult,
)

AUTH_RESULTS = "Authentication-Results"
MAX_LINE = 78  # RFC 5322 §2.1.1: SHOULD NOT be more than 78 characters
_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_NAME_TEXT = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")


# -- reading the header section ------------------------------------------------------------


def split_header_fields(message: bytes) -> tuple[list[bytes], bytes]:
    """The raw header fields (each with its folded lines and line endings) and the rest.

    The rest starts at the empty line that ends the header section (or is empty when the
    message has none), so ``b"".join(fields) + rest == message`` always holds.
    """
    fields: list[bytes] = []
    offset = 0
    for match in _LINE.finditer(message):
        line = match.group(0)
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line  # a continuation line belongs to the field above it
        else:
            fields.append(line)
        offset = match.end()
    return fields, message[offset:]


def field_name(field: bytes) -> str:
    """The field's name in lower case, or "" for a line that is not a header field."""
    match = _FIELD_NAME.match(field)
    return match.group(1).decode("ascii").lower() if match else ""


def unfolded_value(field: bytes) -> str:
    """The field's value with folding removed (RFC 5322 §2.2.3), as text."""
    _, _, value = field.partition(b":")
    text = re.sub(rb"\r?\n(?=[ \t])", b"", value).rstrip(b"\r\n")
    return text.decode("utf-8", "replace").strip()


def header_values(message: bytes, name: str) -> list[str]:
    """The unfolded values of every field called ``name`` (any case), top to bottom."""
    wanted = name.lower()
    fields, _ = split_header_fields(message)
    return [unfolded_value(f) for f in fields if field_name(f) == wanted]


# -- Authentication-Results ----------------------------------------------------------------


def authserv_id_of(value: str) -> str:
    """The authserv-id that starts an ``Authentication-Results`` value, lower-cased.

    Read by hand rather than with ``authres`` so that a malformed forged field that claims
    our id is still recognised (and removed).
    """
    rest = _skip_cfws(value)
    if rest.startswith('"'):
        match = re.match(r'"((?:[^"\\]|\\.)*)"', rest)
        token = re.sub(r"\\(.)", r"\1", match.group(1)) if match else rest[1:]
    else:
        token = re.split(r"[\s;()]", rest, maxsplit=1)[0]
    return token.lower()


def _skip_cfws(text: str) -> str:
    """``text`` without its leading white space and (nested) comments."""
    i, depth = 0, 0
    while i < len(text):
        char = text[i]
        if depth and char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth and not char.isspace():
            break
        i += 1
    return text[i:]


def strip_forged_results(message: bytes, authserv_id: str) -> bytes:
    """``message`` without the ``Authentication-Results`` fields that carry our authserv-id.

    Fields of other authserv-ids, every other field and the body stay byte for byte.
    """
    ours = authserv_id.lower()
    fields, rest = split_header_fields(message)
    kept = [
        f
        for f in fields
        if not (field_name(f) == AUTH_RESULTS.lower() and authserv_id_of(unfolded_value(f)) == ours)
    ]
    return b"".join(kept) + rest


def authentication_results(authserv_id: str, results: AuthResults) -> str:
    """One ``Authentication-Results`` value (no field name), folded with CRLF + space."""
    clauses: list[AuthenticationResult] = []
    for spf in (results.spf, results.helo):
        if spf is not None:
            clauses.append(_spf_clause(spf))
    clauses.extend(_dkim_clause(d) for d in results.dkim)
    if results.dmarc is not None:
        clauses.append(_dmarc_clause(results.dmarc))
    if results.arc is not None:
        clauses.append(_arc_clause(results.arc))
    header = AuthenticationResultsHeader(None, authserv_id=authserv_id, results=clauses)
    return fold_value(AUTH_RESULTS, header.header_value())


def _clause(
    method: str, result: str, reason: str, props: list[tuple[str, str, str]]
) -> AuthenticationResult:
    return AuthenticationResult(
        method,
        result=result,
        reason=reason or None,
        properties=[AuthenticationResultProperty(t, n, v) for t, n, v in props if v],
    )


def _spf_clause(spf: SpfResult) -> AuthenticationResult:
    ptype = "helo" if spf.identity == "helo" else "mailfrom"
    passed = spf.result == "pass"
    return _clause("spf", spf.result, "" if passed else spf.reason, [("smtp", ptype, spf.domain)])


def _dkim_clause(dkim: DkimResult) -> AuthenticationResult:
    props = [
        ("header", "d", dkim.domain),
        ("header", "s", dkim.selector),
        ("header", "a", dkim.algorithm),
        ("header", "b", dkim.signature_prefix),
    ]
    return _clause("dkim", dkim.result, "" if dkim.result == DkimWord.PASS else dkim.reason, props)


def _dmarc_clause(dmarc: DmarcResult) -> AuthenticationResult:
    props = [("header", "from", dmarc.from_domain), ("policy", "dmarc", dmarc.policy)]
    return _clause("dmarc", dmarc.result, "" if dmarc.result == "pass" else dmarc.reason, props)


def _arc_clause(arc: ArcResult) -> AuthenticationResult:
    return _clause("arc", arc.result, "" if arc.result == "pass" else arc.reason, [])


# -- writing fields ------------------------------------------------------------------------


def fold_value(name: str, value: str, limit: int = MAX_LINE) -> str:
    """``value`` folded so that ``name: value`` has lines of at most ``limit`` characters.

    Each ``;``-separated clause (one result) starts a new line unless it fits on the
    current one; a clause longer than a line breaks at its spaces. Unfolding (removing the
    CRLFs) gives back ``value`` exactly. A single word longer than a line stays whole:
    RFC 5322 only forbids lines over 998 characters.
    """
    lines: list[str] = []
    current = f"{name}: "
    empty = True  # nothing of the value on this line yet: never break here
    clauses = value.split("; ")
    for index, clause in enumerate(clauses):
        text = (" " if index else "") + clause + (";" if index < len(clauses) - 1 else "")
        if not empty and len(current) + len(text) > limit:
            lines.append(current)
            current = ""
        for word in re.findall(r" *[^ ]+| +$", text):
            if not empty and current.strip() and len(current) + len(word) > limit:
                lines.append(current)
                current = ""
            current += word
            empty = False
    lines.append(current)
    return "\r\n".join(lines)[len(name) + 2 :]


def prepend_header(message: bytes, name: str, value: str) -> bytes:
    """``name: value`` CRLF on top of ``message``; refuses what would inject another field."""
    if not _NAME_TEXT.match(name):
        raise ValueError(f"not a header field name: {name!r}")
    lines = value.split("\r\n")
    if any("\r" in line or "\n" in line for line in lines) or any(
        not line[:1].isspace() or not line.strip() for line in lines[1:]
    ):
        raise ValueError(f"{name}: value has a line break that is not folding white space")
    return f"{name}: {value}\r\n".encode() + message
