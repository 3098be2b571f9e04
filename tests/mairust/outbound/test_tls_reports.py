"""TLS report records: the client's TLS failures named in RFC 8460's result types, counts
by policy domain."""

from __future__ import annotations

import ssl

import pytest

from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.smtp_types import TlsHandshakeFailed, TlsNotOffered
from mairust.outbound.tls_reports import TlsReportLog, result_type_of


def handshake_failure(verify_code: int | None) -> DeliveryFailure:
    failure = TlsHandshakeFailed("TLS handshake failed")
    if verify_code is None:
        failure.__cause__ = ssl.SSLError("wrong version number")
    else:
        cause = ssl.SSLCertVerificationError("certificate verify failed")
        cause.verify_code = verify_code
        failure.__cause__ = cause
    return failure


@pytest.mark.parametrize(
    ("failure", "result_type"),
    [
        (TlsNotOffered("no STARTTLS"), "starttls-not-supported"),
        (handshake_failure(62), "certificate-host-mismatch"),
        (handshake_failure(10), "certificate-expired"),
        (handshake_failure(20), "certificate-not-trusted"),
        (handshake_failure(18), "certificate-not-trusted"),
        (handshake_failure(50), "validation-failure"),
        (handshake_failure(None), "validation-failure"),
        (TlsHandshakeFailed("timed out"), "validation-failure"),
    ],
)
def test_a_failure_gets_its_rfc_8460_result_type(
    failure: DeliveryFailure, result_type: str
) -> None:
    assert result_type_of(failure) == result_type


def test_counts_are_kept_by_policy_domain_and_recent_failures_are_bounded() -> None:
    log = TlsReportLog(keep=2, clock=lambda: 42.0)
    log.failure("a.test", "sts", "starttls-not-supported", "mx.a.test", "192.0.2.1", "no TLS")
    log.failure("a.test", "sts", "starttls-not-supported", "mx.a.test", "192.0.2.1", "no TLS")
    log.policy_failure("b.test", "sts-policy-fetch-error", "HTTP 404")
    log.success("a.test", "sts", 3)
    assert log.summary("a.test") == {"starttls-not-supported": 2, "successful-sessions": 3}
    assert log.summary("b.test") == {"sts-policy-fetch-error": 1, "successful-sessions": 0}
    assert [(f.policy_domain, f.at) for f in log.recent] == [("a.test", 42.0), ("b.test", 42.0)]
