"""Behaviour of the inbound-authentication benchmark's pieces: the signed world it builds
really passes SPF, DKIM and DMARC through ``AuthChecker`` on a loopback DNS server, the loops
run exactly their budget, rates are computed right, bad arguments are refused. No timings.

One test starts a loopback Ray (the whole benchmark, tiny), hence the e2e group.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import pytest
import ray
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from actors.auth_checker import AuthCheckerHost, RayAuthService, shard_of
from load.bench_auth import (
    CLIENT_IP,
    MESSAGE_SIZE,
    BenchOptions,
    Budget,
    CountingHandle,
    Measurement,
    SenderDomain,
    balanced_domain_names,
    bench_dkimpy,
    bench_in_process,
    dkimpy_txt_lookup,
    drive_service,
    full_check,
    markdown_table,
    parse_options,
    passed,
    run_benchmark,
    sign_for,
    zone_records,
)
from mairust.auth.checker import AuthChecker
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import DkimWord, DmarcWord, SpfWord
from mairust.config import Settings
from tests.support.dns_server import ZoneServer


@pytest.fixture(scope="module")
def domains() -> list[SenderDomain]:
    return [sign_for("sender-a.test"), sign_for("sender-b.test")]


@pytest.fixture(scope="module")
def zone(domains: list[SenderDomain]) -> Iterator[ZoneServer]:
    with ZoneServer(zone_records(domains)) as server:
        yield server


def checker_on(zone: ZoneServer) -> AuthChecker:
    return AuthChecker(CachingResolver(nameservers=["127.0.0.1"], port=zone.port))


def signature_tags(message: bytes) -> dict[str, str]:
    header = message.split(b"\r\n\r\n", 1)[0].decode()
    field = re.search(r"^DKIM-Signature:(.*?)\r\n(?=\S)", header, re.M | re.S)
    assert field is not None, "no DKIM-Signature"
    tags = (tag.split("=", 1) for tag in re.sub(r"\s+", "", field.group(1)).split(";") if tag)
    return {name: value for name, value in tags}


# -- the signed world --------------------------------------------------------------------------


def test_the_message_is_5_kib_signed_relaxed_with_an_rsa_2048_key(domains) -> None:
    domain = domains[0]
    assert len(domain.message) == MESSAGE_SIZE
    tags = signature_tags(domain.message)
    assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
        "rsa-sha256",
        "relaxed/relaxed",
        "sender-a.test",
        "bench",
    )
    key = load_der_public_key(base64.b64decode(domain.dkim_txt.split("p=", 1)[1]))
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert f"From: <{domain.mail_from}>".encode() in domain.message


def test_each_domain_has_its_own_key_and_signature(domains) -> None:
    assert domains[0].dkim_txt != domains[1].dkim_txt
    assert signature_tags(domains[0].message)["b"] != signature_tags(domains[1].message)["b"]


def test_a_full_check_passes_spf_helo_dkim_and_dmarc_over_loopback_dns(domains, zone) -> None:
    checker = checker_on(zone)
    for domain in domains:
        results = full_check(checker, domain)
        assert results.spf is not None and results.spf.result is SpfWord.PASS
        assert results.helo is not None and results.helo.result is SpfWord.PASS
        assert [(d.result, d.domain) for d in results.dkim] == [(DkimWord.PASS, domain.name)]
        assert results.dmarc is not None
        assert (results.dmarc.result, results.dmarc.policy) == (DmarcWord.PASS, "reject")
        assert passed(results)


def test_a_changed_body_or_a_foreign_client_is_not_passed(domains, zone) -> None:
    checker = checker_on(zone)
    domain = domains[0]
    changed = domain.message.replace(b"quick brown fox", b"quick brown cat", 1)
    sender = checker.check_sender(CLIENT_IP, domain.helo, domain.mail_from)
    tampered = checker.check_message(changed, sender)
    assert tampered.dkim[0].result is DkimWord.FAIL
    assert not passed(tampered)

    foreign = checker.check_sender("198.51.100.7", domain.helo, domain.mail_from)
    assert foreign.spf is not None and foreign.spf.result is SpfWord.FAIL
    assert not passed(checker.check_message(domain.message, foreign))


def test_once_warm_a_full_check_asks_the_zone_nothing(domains, zone) -> None:
    checker = checker_on(zone)
    full_check(checker, domains[1])
    before = len(zone.queries)
    assert passed(full_check(checker, domains[1]))
    assert len(zone.queries) == before


def test_dkimpy_verifies_the_message_with_keys_from_the_dict(domains) -> None:
    lookup = dkimpy_txt_lookup(domains)
    assert dkim.verify(domains[1].message, dnsfunc=lookup)
    assert not dkim.verify(domains[1].message.replace(b"fox", b"cat", 1), dnsfunc=lookup)
    assert lookup(b"bench._domainkey.sender-a.test.") == domains[0].dkim_txt.encode()
    assert lookup(b"bench._domainkey.unknown.test.") is None


def test_the_domains_fill_every_shard_of_the_pool_evenly() -> None:
    names = balanced_domain_names(pool_size=3, per_actor=2)
    assert len(set(names)) == 6
    assert sorted(shard_of(name, 3) for name in names) == [0, 0, 1, 1, 2, 2]


# -- budgets, loops and rates ------------------------------------------------------------------


def test_a_budget_is_checks_or_seconds_exactly() -> None:
    assert Budget(checks=3).allows_another(2, 99.0)
    assert not Budget(checks=3).allows_another(3, 0.0)
    assert Budget(seconds=1.5).allows_another(10_000, 1.4)
    assert not Budget(seconds=1.5).allows_another(0, 1.5)
    with pytest.raises(ValueError):
        Budget()
    with pytest.raises(ValueError):
        Budget(checks=1, seconds=1.0)


def test_rates_are_checks_over_seconds() -> None:
    run = Measurement("t", checks=500, seconds=0.25)
    assert run.checks_per_second == pytest.approx(2000.0)
    assert run.ms_per_check == pytest.approx(0.5)
    assert Measurement("t", checks=0, seconds=1.0).ms_per_check is None
    assert Measurement("t", checks=0, seconds=0.0).checks_per_second is None


def test_the_in_process_targets_run_exactly_their_budget(domains, zone) -> None:
    raw = bench_dkimpy(domains, Budget(checks=7))
    assert (raw.checks, raw.not_passed, raw.dns_queries) == (7, 0, None)
    full = bench_in_process(domains, zone, Budget(checks=5), warmup=1)
    # The warm-up covers every domain even when asked for fewer checks, so nothing is asked.
    assert (full.checks, full.not_passed, full.dns_queries) == (5, 0, 0)
    assert full.seconds > 0


class LocalHandle:
    """An actor handle without Ray: ``.method.remote(batch)`` runs on the host at once."""

    def __init__(self, host: AuthCheckerHost) -> None:
        self._host = host

    def __getattr__(self, method: str) -> Any:
        run = getattr(self._host, method)

        class Method:
            @staticmethod
            def remote(batch: list[Any]) -> asyncio.Future[Any]:
                future = asyncio.get_running_loop().create_future()
                future.set_result(run(batch))
                return future

        return Method


async def test_the_service_driver_runs_the_budget_in_batches_and_counts_them(
    domains, zone, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, dns={"nameservers": ["127.0.0.1"], "port": zone.port})
    counted = CountingHandle(LocalHandle(AuthCheckerHost(settings)))
    checks, seconds, failed = await drive_service(
        RayAuthService([counted]), domains, Budget(checks=10), in_flight=5
    )
    assert (checks, failed) == (10, 0)
    assert seconds > 0
    assert counted.requests == 20  # a sender check and a message check per full check
    assert 2 <= counted.calls < 20  # batched: fewer calls than requests


# -- the command line and the table ------------------------------------------------------------


def test_the_options_default_to_2000_checks_a_pool_of_2_and_64_in_flight() -> None:
    options = parse_options([])
    assert (options.budget, options.pool_size, options.in_flight) == (Budget(checks=2000), 2, (64,))
    assert parse_options(["--seconds", "2.5"]).budget == Budget(seconds=2.5)
    assert parse_options(["--batch", "1,64"]).in_flight == (1, 64)


@pytest.mark.parametrize(
    "argv",
    [
        ["--checks", "0"],
        ["--seconds", "0"],
        ["--seconds", "nan"],
        ["--checks", "5", "--seconds", "1"],
        ["--pool-size", "0"],
        ["--in-flight", "8,x"],
        ["--in-flight", "0"],
        ["--warmup", "-1"],
    ],
)
def test_bad_arguments_exit_with_status_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_options(argv)
    assert exit_info.value.code == 2


def test_the_table_has_a_row_per_target_and_says_why_one_did_not_run() -> None:
    table = markdown_table(
        [
            Measurement("dkimpy", checks=1000, seconds=2.0, dns_queries=None),
            Measurement("pool", checks=10, seconds=0.5, mean_batch=31.25, dns_queries=0),
            Measurement("broken", problem="actor died | twice"),
        ]
    ).splitlines()
    assert table[2] == "| dkimpy | 1000 | 2.00 | 500 | 2.00 | - | - | 0 |"
    assert table[3] == "| pool | 10 | 0.50 | 20 | 50.00 | 31.2 | 0 | 0 |"
    assert table[4] == "| broken | - | - | - | - | - | - | not run: actor died \\| twice |"


# -- the whole run, on a loopback Ray ----------------------------------------------------------


def test_one_small_run_measures_every_target_and_leaves_ray_stopped() -> None:
    assert not ray.is_initialized(), "another test left Ray running"
    options = BenchOptions(Budget(checks=12), pool_size=2, in_flight=(4,), domains_per_actor=1)
    runs = run_benchmark(options)
    assert [run.target for run in runs] == [
        "dkimpy `dkim.verify` only (1 thread)",
        "AuthChecker in-process (1 thread)",
        "1 actor via RayAuthService, 4 in flight",
        "pool of 2 via RayAuthService, 4 in flight",
    ]
    for run in runs:
        assert (run.problem, run.checks, run.not_passed) == (None, 12, 0), run
    for run in runs[1:]:
        assert run.dns_queries == 0, run  # the warm-up cached every record
    for run in runs[2:]:
        assert run.mean_batch is not None and 1 <= run.mean_batch <= 4, run
    assert not ray.is_initialized()
