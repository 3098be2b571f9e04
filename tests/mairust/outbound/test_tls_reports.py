"""TLS report records: the client's TLS failures named in RFC 8460's result types, counts
by policy domain, batched by day and written to a real store in one call per flush; several
delivery loops' flushes add up, a store that is down keeps the counts for the next one."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from mairust.errors import StorageUnavailable
from mairust.outbound.errors import DeliveryFailure
from mairust.outbound.smtp_types import TlsHandshakeFailed, TlsNotOffered
from mairust.outbound.tls_reports import (
    TlsReportLog,
    result_type_of,
    route_source_address,
    run_flushes,
)
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.sqlite_template import upgrade_to_head_for_test


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


DAY_ONE = 1_795_910_400.0  # 2026-11-29T00:00:00Z
POLICY = ("version: STSv1", "mode: enforce", "mx: *.far.test", "max_age: 86400")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


def loop_log(now: list[float]) -> TlsReportLog:
    return TlsReportLog(clock=lambda: now[0], sending_ip_for=lambda _: "192.0.2.9")


async def test_flushes_of_several_loops_add_up_per_day_in_the_store(
    store: SqlMetadataStore,
) -> None:
    now = [DAY_ONE + 3600]
    first, second = loop_log(now), loop_log(now)
    for log in (first, second):
        log.success("far.test", "sts", 2, policy_string=POLICY, mx_patterns=("*.far.test",))
        log.failure(
            "far.test",
            "sts",
            "certificate-expired",
            "mx1.far.test",
            "192.0.2.25",
            "expired",
            policy_string=POLICY,
            mx_patterns=("*.far.test",),
        )
    first.success("req.test", "require-tls")
    first.policy_failure("far.test", "sts-policy-fetch-error", "HTTP 404")
    assert await first.flush(store) == 4
    assert await second.flush(store) == 2
    assert await second.flush(store) == 0  # nothing pending: no write
    now[0] += 86400  # the next day's counts are that day's
    second.success("far.test", "sts", 5, policy_string=POLICY, mx_patterns=("*.far.test",))
    await second.flush(store)

    day = date(2026, 11, 29)
    found = {
        (c.key.policy_domain, c.key.policy_type, c.key.result_type): c
        for c in store.tls_results(day)
    }
    assert {k: c.count for k, c in found.items()} == {
        ("far.test", "sts", "success"): 4,
        ("far.test", "sts", "certificate-expired"): 2,
        ("far.test", "sts", "sts-policy-fetch-error"): 1,
        ("req.test", "no-policy-found", "success"): 1,
    }
    expired = found[("far.test", "sts", "certificate-expired")].key
    assert (expired.sending_ip, expired.receiving_mx, expired.receiving_ip) == (
        "192.0.2.9",
        "mx1.far.test",
        "192.0.2.25",
    )
    assert (expired.policy_string, expired.mx_hosts) == (POLICY, ("*.far.test",))
    [next_day] = store.tls_results(day + timedelta(days=1))
    assert next_day.count == 5


async def test_a_flush_to_a_store_that_is_down_keeps_the_counts(
    store: SqlMetadataStore,
) -> None:
    down = SqlMetadataStore("postgresql+psycopg://mairust@127.0.0.1:9/none")
    log = loop_log([DAY_ONE])
    log.success("far.test", "sts", 3)
    try:
        with pytest.raises(StorageUnavailable):
            await log.flush(down)
    finally:
        down.close()
    assert await log.flush(store) == 1
    assert [c.count for c in store.tls_results(date(2026, 11, 29))] == [3]


async def test_the_flush_loop_flushes_every_interval(store: SqlMetadataStore) -> None:
    log = loop_log([DAY_ONE])
    log.success("far.test", "sts")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise asyncio.CancelledError
        log.success("far.test", "sts", 2)

    progress: list[int] = []
    with pytest.raises(asyncio.CancelledError):
        await run_flushes(log, store, 10.0, progress=lambda: progress.append(1), sleep=sleep)
    assert waits == [10.0, 10.0] and progress == [1, 1]
    assert [c.count for c in store.tls_results(date(2026, 11, 29))] == [3]


def test_with_reports_off_only_the_process_totals_are_kept() -> None:
    log = TlsReportLog(batch=False, sending_ip_for=lambda _: "192.0.2.9")
    log.success("far.test", "sts")
    log.failure("far.test", "sts", "starttls-not-supported", "mx.far.test", "192.0.2.1", "x")
    assert log.drain() == []
    assert log.summary("far.test") == {"starttls-not-supported": 1, "successful-sessions": 1}


def test_the_sending_address_is_the_one_the_route_picks() -> None:
    assert route_source_address("127.0.0.1") == "127.0.0.1"
    assert route_source_address("not an address") == ""
