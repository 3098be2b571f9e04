"""The header and MIME scan: each limit, agreement with the parser's nesting, and its cost."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import Message

from hypothesis import given, settings
from hypothesis import strategies as st

from mairust.config import SmtpSettings
from mairust.smtp import replies
from mairust.smtp.content_limits import ContentLimits, content_refusal

DEFAULTS = ContentLimits.of(SmtpSettings())


def _limits(**changes: int) -> ContentLimits:
    values = {
        "max_header_count": DEFAULTS.max_header_count,
        "max_header_bytes": DEFAULTS.max_header_bytes,
        "max_header_field_bytes": DEFAULTS.max_header_field_bytes,
        "max_mime_depth": DEFAULTS.max_mime_depth,
        "max_mime_parts": DEFAULTS.max_mime_parts,
    }
    return ContentLimits(**{**values, **changes})


def _normal_message() -> bytes:
    """About 5 KiB: a dozen headers, text and HTML alternatives."""
    message = email.message.EmailMessage()
    message["From"] = "sender@remote.test"
    message["To"] = "alice@example.test"
    message["Subject"] = "hello"
    for number in range(10):
        message[f"X-Header-{number}"] = "v" * 40
    message.set_content("some text " * 200)
    message.add_alternative("<p>" + "some html " * 200 + "</p>", subtype="html")
    return message.as_bytes().replace(b"\n", b"\r\n")


def test_a_normal_message_passes_in_microseconds() -> None:
    message = _normal_message()
    assert 4000 < len(message) < 6000
    assert content_refusal(message, DEFAULTS) is None
    rounds = 2000
    started = time.process_time()
    for _ in range(rounds):
        content_refusal(message, DEFAULTS)
    each = (time.process_time() - started) / rounds
    print(f"scan of a {len(message)}-byte multipart message: {each * 1e6:.1f} µs")
    # ~22 µs when idle; the pipeline's parse of the same message (compat32) ~150 µs.
    assert each < 200e-6


def test_header_count_and_sizes() -> None:
    headers = b"".join(b"X-N: %d\r\n" % number for number in range(10))
    message = headers + b"\r\nbody\r\n"
    assert content_refusal(message, _limits(max_header_count=10)) is None
    assert content_refusal(message, _limits(max_header_count=9)) == replies.TOO_MANY_HEADER_FIELDS
    assert content_refusal(message, _limits(max_header_bytes=len(headers))) is None
    assert content_refusal(message, _limits(max_header_bytes=len(headers) - 1)) == (
        replies.HEADER_TOO_BIG
    )
    folded = b"Subject: a\r\n" + b" b\r\n" * 400 + b"\r\nbody\r\n"
    assert content_refusal(folded, _limits(max_header_field_bytes=1612)) is None
    assert content_refusal(folded, _limits(max_header_field_bytes=1611)) == (
        replies.HEADER_FIELD_TOO_BIG
    )
    # A header block with no end, past the limit, is refused without reading it all.
    endless = b"X: " + b"y" * 500_000
    assert content_refusal(endless, DEFAULTS) == replies.HEADER_TOO_BIG


def test_part_headers_are_held_to_the_same_limits() -> None:
    part_headers = b"".join(b"X-P: %d\r\n" % number for number in range(20))
    message = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        + part_headers
        + b"\r\nx\r\n--b--\r\n"
    )
    assert content_refusal(message, _limits(max_header_count=20)) is None
    assert content_refusal(message, _limits(max_header_count=19)) == (
        replies.TOO_MANY_HEADER_FIELDS
    )


# -- agreement with the parser: random MIME trees ----------------------------------------

Tree = list["Tree"] | str  # a multipart's children, or a leaf's kind


def _trees() -> st.SearchStrategy[Tree]:
    leaves = st.sampled_from(["text", "bare", "rfc822", "delivery-status"])
    return st.recursive(
        leaves, lambda children: st.lists(children, min_size=1, max_size=4), max_leaves=30
    )


_LEAVES = {
    "text": b"Content-Type: text/plain\r\n\r\n--not-a-boundary\r\nleaf\r\n",
    # No Content-Type: text/plain, or in a multipart/digest a message (RFC 2046 §5.1.5).
    "bare": b"\r\nSubject: inner\r\n\r\nbody\r\n",
    "rfc822": b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n",
    "delivery-status": b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n",
}


def _render(tree: Tree, counter: list[int]) -> bytes:
    """A message (headers and body) for ``tree``; boundaries are unique per multipart."""
    if isinstance(tree, str):
        return _LEAVES[tree]
    counter[0] += 1
    boundary = b"b%d=_x" % counter[0]
    subtype = b"digest" if counter[0] % 3 == 0 else b"mixed"
    body = b"".join(b"--" + boundary + b"\r\n" + _render(child, counter) for child in tree)
    return (
        b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"\r\n\r\n'
        b"preamble\r\n" + body + b"--" + boundary + b"--\r\nepilogue\r\n"
    )


def _parser_shape(message: Message, depth: int = 0) -> tuple[int, int]:
    """(deepest level, parts in all) as the pipeline's parser builds them: a multipart and
    a message/* wrapper are a level each; a multipart's children are its parts."""
    if message.get_content_type() == "message/delivery-status" or not message.is_multipart():
        return depth, 0
    payload = message.get_payload()
    assert isinstance(payload, list)
    level = depth + 1
    deepest = level
    parts = len(payload) if message.get_content_maintype() == "multipart" else 0
    for child in payload:
        assert isinstance(child, Message)
        child_depth, child_parts = _parser_shape(child, level)
        deepest, parts = max(deepest, child_depth), parts + child_parts
    return deepest, parts


@settings(max_examples=300, deadline=None)
@given(tree=_trees())
def test_the_scan_counts_depth_and_parts_as_the_parser_builds_them(tree: Tree) -> None:
    message = b"From: a@b.test\r\n" + _render(tree, [0])
    parsed = email.message_from_bytes(message, policy=email.policy.compat32)
    depth, parts = _parser_shape(parsed)
    assert content_refusal(message, _limits(max_mime_depth=max(depth, 1))) is None
    assert content_refusal(message, _limits(max_mime_parts=max(parts, 1))) is None
    if depth > 1:
        assert content_refusal(message, _limits(max_mime_depth=depth - 1)) == (
            replies.MIME_TOO_DEEP
        )
    if parts > 1:
        assert content_refusal(message, _limits(max_mime_parts=parts - 1)) == (
            replies.TOO_MANY_MIME_PARTS
        )


# -- MIME bombs: refused for well under a second of CPU ---------------------------------


def _cpu_of(message: bytes) -> tuple[str | None, float]:
    started = time.thread_time()
    refusal = content_refusal(message, DEFAULTS)
    return refusal, time.thread_time() - started


def test_mime_bombs_are_refused_cheaply() -> None:
    deep = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(100_000)
    )
    wide = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 10_000
        + b"--b--\r\n"
    )
    rfc822 = b"Content-Type: message/rfc822\r\n\r\n" * 100_000
    # 20 MB of lines that look like delimiters but are none: the regex skips them in C.
    decoys = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + b"--bx\r\n" * 3_000_000
    results = {
        name: _cpu_of(message)
        for name, message in [("deep", deep), ("wide", wide), ("rfc822", rfc822)]
    }
    print({name: f"{cpu * 1000:.1f} ms" for name, (_, cpu) in results.items()})
    assert results["deep"][0] == replies.MIME_TOO_DEEP
    assert results["wide"][0] == replies.TOO_MANY_MIME_PARTS
    assert results["rfc822"][0] == replies.MIME_TOO_DEEP
    assert all(cpu < 1.0 for _, cpu in results.values())
    refusal, cpu = _cpu_of(decoys)
    print(f"decoys: {cpu * 1000:.1f} ms")
    assert refusal is None and cpu < 1.0
