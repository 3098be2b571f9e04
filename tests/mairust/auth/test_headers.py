"""Authentication-Results building, forged-result stripping and header prepending."""

from __future__ import annotations

import pytest
from authres import AuthenticationResultsHeader  # type: ignore[import-untyped]

from mairust.auth.headers import (
    authentication_results,
    authserv_id_of,
    fold_value,
    header_values,
    prepend_header,
    split_header_fields,
    strip_forged_results,
)
from mairust.auth.results import (
    ArcResult,
    ArcWord,
    AuthResults,
    DkimResult,
    DkimWord,
    DmarcResult,
    DmarcWord,
    SpfResult,
    SpfWord,
)

FULL = AuthResults(
    spf=SpfResult(SpfWord.PASS, "mailfrom", "bounces.example.org", "192.0.2.1"),
    helo=SpfResult(SpfWord.NONE, "helo", "mx.example.org", "192.0.2.1", "no SPF record"),
    dkim=(
        DkimResult(DkimWord.PASS, "example.org", "s2024", "rsa-sha256", "AbCdEfGh"),
        DkimResult(
            DkimWord.FAIL,
            "list.example.net",
            "k1",
            "ed25519-sha256",
            "x/Yz+012",
            "body hash did not verify",
        ),
    ),
    dmarc=DmarcResult(DmarcWord.PASS, "example.org", "reject", False, True, "p= of the author"),
    arc=ArcResult(ArcWord.FAIL, 2, "ARC-Seal[1] did not validate"),
)


def _lines(value: str) -> list[str]:
    return f"Authentication-Results: {value}".split("\r\n")


def test_one_header_with_every_result_parses_back() -> None:
    value = authentication_results("mx.example.com", FULL)
    parsed = AuthenticationResultsHeader.parse_value(value.replace("\r\n", ""))
    assert parsed.authserv_id == "mx.example.com"
    clauses = [
        (r.method, r.result, {(p.type, p.name): p.value for p in r.properties})
        for r in parsed.results
    ]
    assert clauses == [
        ("spf", "pass", {("smtp", "mailfrom"): "bounces.example.org"}),
        ("spf", "none", {("smtp", "helo"): "mx.example.org"}),
        (
            "dkim",
            "pass",
            {
                ("header", "d"): "example.org",
                ("header", "s"): "s2024",
                ("header", "a"): "rsa-sha256",
                ("header", "b"): "AbCdEfGh",
            },
        ),
        (
            "dkim",
            "fail",
            {
                ("header", "d"): "list.example.net",
                ("header", "s"): "k1",
                ("header", "a"): "ed25519-sha256",
                ("header", "b"): "x/Yz+012",
            },
        ),
        ("dmarc", "pass", {("header", "from"): "example.org", ("policy", "dmarc"): "reject"}),
        ("arc", "fail", {}),
    ]
    reasons = [r.reason for r in parsed.results]
    assert reasons == [
        None,
        "no SPF record",
        None,
        "body hash did not verify",
        None,
        "ARC-Seal[1] did not validate",
    ]


def test_folded_to_78_columns_with_crlf_and_whitespace_continuations() -> None:
    value = authentication_results("mx.example.com", FULL)
    lines = _lines(value)
    assert len(lines) > 3
    assert all(len(line) <= 78 for line in lines), lines
    assert all(line[:1] in (" ", "\t") for line in lines[1:])
    assert "\n" not in value.replace("\r\n", "")


def test_no_results_is_none() -> None:
    assert authentication_results("MX.example.com", AuthResults()) == "mx.example.com; none"


def test_fold_keeps_unfoldable_words_whole_and_unfolds_exactly() -> None:
    value = 'mx.example.com; dkim=fail reason="' + "x" * 120 + '" header.d=example.org'
    folded = fold_value("Authentication-Results", value)
    assert folded.replace("\r\n", "") == value
    assert any(len(line) > 78 for line in _lines(folded))  # the 120-char word cannot be cut
    assert all(len(line) <= 78 for line in _lines(folded) if "xxxx" not in line)


@pytest.mark.parametrize(
    ("value", "authserv_id"),
    [
        ("mx.example.com; spf=pass", "mx.example.com"),
        ("  MX.Example.COM ; none", "mx.example.com"),
        ("(comment (nested)) mx.example.com 1; none", "mx.example.com"),
        ('"mx.example.com"; none', "mx.example.com"),
        ("mx.example.com(c);none", "mx.example.com"),
    ],
)
def test_authserv_id_is_read_past_comments_and_quotes(value, authserv_id) -> None:
    assert authserv_id_of(value) == authserv_id


def test_strip_forged_results_removes_only_ours_and_keeps_the_body() -> None:
    body = b"\r\nAuthentication-Results: mx.example.com; dkim=pass\r\nbody text\r\n"
    message = (
        b"Received: from a by b\r\n"
        b"authentication-results: MX.example.com;\r\n\tdkim=pass header.d=bank.test\r\n"
        b"Authentication-Results: other.example.net; spf=fail\r\n"
        b"Subject: hi\r\n"
        b'Authentication-Results: "mx.example.com"; dmarc=pass\r\n'
        b"Authentication-Results: (forged) mx.example.com; arc=pass\r\n"
        b"Authentication-Results: mx.example.com.evil.test; spf=pass\r\n"
    ) + body
    stripped = strip_forged_results(message, "mx.example.com")
    assert (
        stripped
        == (
            b"Received: from a by b\r\n"
            b"Authentication-Results: other.example.net; spf=fail\r\n"
            b"Subject: hi\r\n"
            b"Authentication-Results: mx.example.com.evil.test; spf=pass\r\n"
        )
        + body
    )


def test_strip_forged_results_handles_lf_and_headers_only() -> None:
    lf = b"Authentication-Results: mx.example.com; spf=pass\nSubject: x\n\nbody\n"
    assert strip_forged_results(lf, "mx.example.com") == b"Subject: x\n\nbody\n"
    only = b"Authentication-Results: mx.example.com; spf=pass\r\n"
    assert strip_forged_results(only, "mx.example.com") == b""
    assert strip_forged_results(b"", "mx.example.com") == b""


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\r\n",
        b"A: 1\r\n\r\n",
        b"A: 1\r\n b\r\n\tc\r\n\r\nbody\r\n\r\n",
        b"A: 1",
        b"\r\n\r\nbody only",
        b"From someone Mon Jan 1\nA: 1\n\nx",
        b" leading continuation\r\nA: 1\r\n\r\n",
        b"A: \xff\xfe\r\n\r\n\xff",
    ],
)
def test_split_header_fields_round_trips(message) -> None:
    fields, rest = split_header_fields(message)
    assert b"".join(fields) + rest == message


def test_header_values_unfold_and_match_any_case() -> None:
    message = b"from: a@example.org\r\nFROM: b@example.org,\r\n c@example.org\r\n\r\nFrom: no\r\n"
    assert header_values(message, "From") == ["a@example.org", "b@example.org, c@example.org"]


def test_prepend_header_puts_one_field_on_top() -> None:
    value = authentication_results("mx.example.com", FULL)
    message = b"Subject: x\r\n\r\nbody\r\n"
    out = prepend_header(message, "Authentication-Results", value)
    assert out.endswith(b"\r\n" + message)
    assert header_values(out, "authentication-results") == [value.replace("\r\n", "")]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Test", "ok\r\nBcc: victim@example.org"),
        ("X-Test", "ok\nBcc: victim@example.org"),
        ("X-Test", "ok\r"),
        ("X-Test", "ok\r\n"),
        ("X-Test", "ok\r\n \r\n x"),
        ("X Test", "ok"),
        ("X-Test:", "ok"),
        ("", "ok"),
    ],
)
def test_prepend_header_refuses_injection(name, value) -> None:
    with pytest.raises(ValueError):
        prepend_header(b"Subject: x\r\n\r\n", name, value)
