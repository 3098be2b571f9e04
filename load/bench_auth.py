"""Inbound-authentication benchmark: what one full SPF + DKIM + DMARC check costs, one table.

Owns the signed test world (sender domains, each with an RSA-2048 key, SPF, DKIM and DMARC
records, served by a loopback ``ZoneServer``, and one DKIM-signed 5 KiB message) and measures,
in one run and on the same messages:

1. ``dkimpy dkim.verify`` alone, one thread, keys from a dict: the reference;
2. ``AuthChecker`` in this process (``check_sender`` + ``check_message``) over a warm
   ``CachingResolver``;
3. one ``AuthCheckerActor`` driven through ``RayAuthService`` with many checks in flight;
4. a pool of ``--pool-size`` actors the same way, the sender domains spread evenly by shard.

Run from the repository root (it imports ``tests.support.dns_server``):
``python -m load.bench_auth --help``. Nothing here measures in tests; tests assert behaviour.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import argparse
import asyncio
import logging
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dkim  # type: ignore[import-untyped]
import ray

from actors.auth_checker import AuthCheckerActor, RayAuthService, shard_of
from cluster.ray_runtime import start_ray
from load.message_factory import MessageFactory
from load.signed_mail import SigningDomain
from load.targets import machine_line
from mairust.auth.checker import AuthChecker
from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import AuthResults, DkimWord, DmarcWord, SpfWord
from mairust.config import Settings
from tests.support.dns_server import ZoneServer

log = logging.getLogger("load.bench_auth")

CLIENT_IP = "192.0.2.25"
SPF_RECORD = "v=spf1 ip4:192.0.2.0/24 -all"
DMARC_RECORD = "v=DMARC1; p=reject"
SELECTOR = "bench"
MESSAGE_SIZE = 5120
ZONE_TTL = 86_400  # longer than any run, so the warm cache stays warm
TABLE_HEADER = (
    "| target | checks | seconds | checks/s | ms per check | mean batch | DNS queries "
    "| not pass |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|"
)


@dataclass(frozen=True)
class SenderDomain:
    """One sending domain: its DNS records and one message it signed, ``MESSAGE_SIZE`` bytes."""

    name: str
    dkim_txt: str
    message: bytes

    @property
    def mail_from(self) -> str:
        return f"bench@{self.name}"

    @property
    def helo(self) -> str:
        return f"mx.{self.name}"

    def records(self) -> dict[str, dict[str, Any]]:
        return {
            self.name: {"TXT": [SPF_RECORD]},
            self.helo: {"TXT": [SPF_RECORD], "A": [CLIENT_IP]},
            f"{SELECTOR}._domainkey.{self.name}": {"TXT": [self.dkim_txt]},
            f"_dmarc.{self.name}": {"TXT": [DMARC_RECORD]},
        }


@dataclass(frozen=True)
class Budget:
    """How long a target runs: a number of checks, or seconds (then no new check starts)."""

    checks: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.checks is None) == (self.seconds is None):
            raise ValueError("a budget is a number of checks or of seconds, exactly one")

    def allows_another(self, started: int, elapsed: float) -> bool:
        if self.checks is not None:
            return started < self.checks
        assert self.seconds is not None
        return elapsed < self.seconds


@dataclass(frozen=True)
class Measurement:
    """One target's measured run, or why it could not run."""

    target: str
    checks: int = 0
    seconds: float = 0.0
    not_passed: int = 0  # checks whose outcome was not pass throughout
    dns_queries: int | None = None  # queries the zone saw while measuring
    mean_batch: float | None = None  # requests per Ray call
    problem: str | None = None

    @property
    def checks_per_second(self) -> float | None:
        return self.checks / self.seconds if self.seconds > 0 else None

    @property
    def ms_per_check(self) -> float | None:
        """Wall time over checks: the inverse rate, not a latency when checks overlap."""
        return 1000 * self.seconds / self.checks if self.checks else None


@dataclass(frozen=True)
class BenchOptions:
    budget: Budget
    pool_size: int = 2
    in_flight: tuple[int, ...] = (64,)
    domains_per_actor: int = 4
    warmup: int = 200
    timeout: float = 300.0


def balanced_domain_names(pool_size: int, per_actor: int) -> list[str]:
    """``pool_size * per_actor`` names, ``per_actor`` of them on each shard of the pool."""
    names: list[str] = []
    taken = [0] * pool_size
    candidate = 0
    while len(names) < pool_size * per_actor:
        name = f"sender{candidate}.test"
        shard = shard_of(name, pool_size)
        if taken[shard] < per_actor:
            taken[shard] += 1
            names.append(name)
        candidate += 1
    return names


def sign_for(name: str, size: int = MESSAGE_SIZE) -> SenderDomain:
    """A fresh RSA-2048 key for ``name`` and a message from it, relaxed/relaxed-signed by dkimpy,
    exactly ``size`` bytes with its DKIM-Signature."""
    signing = SigningDomain.generate(name)
    pem, dkim_txt = signing.private_pem, signing.dkim_txt
    signature_size = 0
    for _ in range(3):  # the signature's length is known only once signed; it rarely changes
        unsigned = MessageFactory(
            size=size - signature_size,
            mail_from=f"bench@{name}",
            to_pattern="user{n}@example.test",
            to_count=1,
            recipients_per_message=1,
            id_domain=name,
        ).build(0)
        signature: bytes = dkim.sign(
            unsigned, SELECTOR.encode(), name.encode(), pem, canonicalize=(b"relaxed", b"relaxed")
        )
        if len(signature) + len(unsigned) == size:
            return SenderDomain(name, dkim_txt, signature + unsigned)
        signature_size = len(signature)
    raise RuntimeError(f"could not sign a message of exactly {size} bytes for {name}")


def zone_records(domains: Sequence[SenderDomain]) -> dict[str, dict[str, Any]]:
    return {name: rrs for domain in domains for name, rrs in domain.records().items()}


def dkimpy_txt_lookup(domains: Sequence[SenderDomain]) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc``: the DKIM key records from a dict, no DNS at all."""
    keys = {
        f"{SELECTOR}._domainkey.{domain.name}".encode(): domain.dkim_txt.encode()
        for domain in domains
    }

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return keys.get(name.rstrip(b".").lower())

    return lookup


def passed(results: AuthResults) -> bool:
    """SPF (MAIL FROM and HELO), DKIM and DMARC all ``pass``: the outcome every check must have."""
    return (
        results.spf is not None
        and results.spf.result is SpfWord.PASS
        and results.helo is not None
        and results.helo.result is SpfWord.PASS
        and any(signature.result is DkimWord.PASS for signature in results.dkim)
        and results.dmarc is not None
        and results.dmarc.result is DmarcWord.PASS
    )


def full_check(checker: AuthChecker, domain: SenderDomain) -> AuthResults:
    sender = checker.check_sender(CLIENT_IP, domain.helo, domain.mail_from)
    return checker.check_message(domain.message, sender)


def _run_serially(budget: Budget, check_one: Callable[[int], bool]) -> tuple[int, float, int]:
    """Run ``check_one(i)`` until the budget is spent: (checks, seconds, not passed)."""
    done = failed = 0
    start = time.perf_counter()
    while budget.allows_another(done, time.perf_counter() - start):
        if not check_one(done):
            failed += 1
        done += 1
    return done, time.perf_counter() - start, failed


def bench_dkimpy(domains: Sequence[SenderDomain], budget: Budget) -> Measurement:
    lookup = dkimpy_txt_lookup(domains)
    checks, seconds, failed = _run_serially(
        budget, lambda i: bool(dkim.verify(domains[i % len(domains)].message, dnsfunc=lookup))
    )
    return Measurement("dkimpy `dkim.verify` only (1 thread)", checks, seconds, failed)


def bench_in_process(
    domains: Sequence[SenderDomain], zone: ZoneServer, budget: Budget, warmup: int
) -> Measurement:
    checker = AuthChecker(CachingResolver(nameservers=["127.0.0.1"], port=zone.port))
    warm = Budget(checks=max(warmup, len(domains)))  # every domain's records cached
    _run_serially(warm, lambda i: passed(full_check(checker, domains[i % len(domains)])))
    queries_before = len(zone.queries)
    checks, seconds, failed = _run_serially(
        budget, lambda i: passed(full_check(checker, domains[i % len(domains)]))
    )
    queries = len(zone.queries) - queries_before
    return Measurement("AuthChecker in-process (1 thread)", checks, seconds, failed, queries)


class CountingHandle:
    """An actor handle that counts the batches ``RayAuthService`` sends through it."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.calls = 0
        self.requests = 0

    def __getattr__(self, method: str) -> _CountedMethod:
        return _CountedMethod(self, getattr(self._handle, method))


class _CountedMethod:
    def __init__(self, counter: CountingHandle, remote_method: Any) -> None:
        self._counter = counter
        self._remote_method = remote_method

    def remote(self, batch: Sequence[Any]) -> Any:
        self._counter.calls += 1
        self._counter.requests += len(batch)
        return self._remote_method.remote(batch)


async def drive_service(
    service: Any, domains: Sequence[SenderDomain], budget: Budget, in_flight: int
) -> tuple[int, float, int]:
    """Full checks through ``service`` (an ``AuthService``), ``in_flight`` at a time, until the
    budget is spent: (checks, seconds, not passed)."""
    started = done = failed = 0
    start = time.perf_counter()

    async def one_session() -> None:
        nonlocal started, done, failed
        while budget.allows_another(started, time.perf_counter() - start):
            domain = domains[started % len(domains)]
            started += 1
            sender = await service.check_sender(CLIENT_IP, domain.helo, domain.mail_from)
            results = await service.check_message(domain.message, sender)
            done += 1
            failed += not passed(results)

    await asyncio.gather(*(one_session() for _ in range(in_flight)))
    return done, time.perf_counter() - start, failed


async def bench_actors(
    target: str,
    handles: Sequence[Any],
    domains: Sequence[SenderDomain],
    zone: ZoneServer,
    options: BenchOptions,
    in_flight: int,
) -> Measurement:
    counted = [CountingHandle(handle) for handle in handles]
    service = RayAuthService(counted)
    try:
        async with asyncio.timeout(options.timeout):
            warm = Budget(checks=max(options.warmup, len(domains)))  # every domain cached
            await drive_service(service, domains, warm, in_flight)
            for handle in counted:
                handle.calls = handle.requests = 0
            queries_before = len(zone.queries)
            checks, seconds, failed = await drive_service(
                service, domains, options.budget, in_flight
            )
    except TimeoutError:
        return Measurement(target, problem=f"not done within {options.timeout:.0f} s")
    except ray.exceptions.RayError as exc:  # an actor died or raised: the row says so
        return Measurement(target, problem=f"{type(exc).__name__}: {exc}".splitlines()[0])
    calls = sum(handle.calls for handle in counted)
    requests = sum(handle.requests for handle in counted)
    queries, mean_batch = len(zone.queries) - queries_before, requests / calls if calls else None
    return Measurement(target, checks, seconds, failed, queries, mean_batch)


async def _bench_ray(
    domains: Sequence[SenderDomain], zone: ZoneServer, options: BenchOptions, data_dir: Path
) -> list[Measurement]:
    settings = Settings(data_dir=data_dir, dns={"nameservers": ["127.0.0.1"], "port": zone.port})
    start_ray(settings)
    runs: list[Measurement] = []
    try:
        for actors, label in ((1, "1 actor"), (options.pool_size, f"pool of {options.pool_size}")):
            handles = [AuthCheckerActor.remote(settings) for _ in range(actors)]
            for in_flight in options.in_flight:
                target = f"{label} via RayAuthService, {in_flight} in flight"
                runs.append(await bench_actors(target, handles, domains, zone, options, in_flight))
                log.info("%s: %.0f checks/s", target, runs[-1].checks_per_second or 0)
            for handle in handles:
                ray.kill(handle, no_restart=True)
    finally:
        ray.shutdown()
    return runs


def run_benchmark(options: BenchOptions) -> list[Measurement]:
    """Every target, in order, on one zone and one set of signed messages."""
    names = balanced_domain_names(options.pool_size, options.domains_per_actor)
    domains = [sign_for(name) for name in names]
    with ZoneServer(zone_records(domains), ttl=ZONE_TTL) as zone:
        runs = [bench_dkimpy(domains, options.budget)]
        log.info("dkimpy: %.0f verifies/s", runs[-1].checks_per_second or 0)
        runs.append(bench_in_process(domains, zone, options.budget, options.warmup))
        log.info("in-process: %.0f checks/s", runs[-1].checks_per_second or 0)
        with tempfile.TemporaryDirectory(prefix="mairust-bench-auth-") as tmp:
            runs += asyncio.run(_bench_ray(domains, zone, options, Path(tmp)))
    return runs


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown_table(runs: Sequence[Measurement]) -> str:
    rows = [TABLE_HEADER]
    for run in runs:
        if run.problem is not None:
            problem = run.problem.replace("|", "\\|")
            rows.append(f"| {run.target} | - | - | - | - | - | - | not run: {problem} |")
            continue
        queries = "-" if run.dns_queries is None else str(run.dns_queries)
        rows.append(
            f"| {run.target} | {run.checks} | {run.seconds:.2f} | "
            f"{_cell(run.checks_per_second, 0)} | {_cell(run.ms_per_check, 2)} | "
            f"{_cell(run.mean_batch, 1)} | {queries} | {run.not_passed} |"
        )
    return "\n".join(rows)


def _positive(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    return parse


def _positive_ints(text: str) -> tuple[int, ...]:
    return tuple(_positive(int)(part) for part in text.split(","))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load.bench_auth",
        description="Checks per second of a full inbound SPF + DKIM (rsa-2048) + DMARC check: "
        "dkimpy alone, AuthChecker in-process, one Ray auth-checker actor and the pool; "
        "loopback only; prints a Markdown table.",
    )
    add = parser.add_argument
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--checks", type=_positive(int), help="checks per target (default 2000)")
    budget.add_argument("--seconds", type=_positive(float), help="seconds per target instead")
    add("--pool-size", type=_positive(int), default=2, help="auth-checker actors in the pool")
    add(
        "--in-flight",
        "--batch",
        dest="in_flight",
        type=_positive_ints,
        default=(64,),
        help="checks in flight through RayAuthService, comma-separated for one row each "
        "(the service batches what arrives in one loop turn, so this bounds a batch; "
        "default 64)",
    )
    add("--domains-per-actor", type=_positive(int), default=4, help="sender domains per shard")
    add("--warmup", type=_positive(int), default=200, help="unmeasured checks per target first")
    add("--timeout", type=_positive(float), default=300.0, help="seconds before a Ray target fails")
    return parser


def parse_options(argv: Sequence[str] | None = None) -> BenchOptions:
    """The options of a run; bad arguments exit with status 2 (argparse)."""
    args = _parser().parse_args(argv)
    budget = Budget(seconds=args.seconds) if args.seconds else Budget(checks=args.checks or 2000)
    return BenchOptions(
        budget=budget,
        pool_size=args.pool_size,
        in_flight=args.in_flight,
        domains_per_actor=args.domains_per_actor,
        warmup=args.warmup,
        timeout=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    load_before = os.getloadavg()[0]
    runs = run_benchmark(options)
    command = shlex.join(["python", "-m", "load.bench_auth", *(argv or sys.argv[1:])])
    print(f"`{command}` — {machine_line(load_before)}\n")
    print(markdown_table(runs))
    ok = all(run.problem is None and run.not_passed == 0 for run in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
