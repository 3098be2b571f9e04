"""The auth-checker pool: real actors resolving against a real loopback DNS server, driven
through RayAuthService (batched per event-loop turn, sharded by sender domain)."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.auth_checker import AuthCheckerActor, RayAuthService, shard_of
from mairust.auth.checker import SenderCheck
from mairust.auth.results import DmarcWord, SpfWord
from mairust.config import Settings
from mairust.errors import CheckUnavailable
from tests.support.dns_server import ZoneServer

DOMAINS = [f"d{n}.example" for n in range(8)]
ZONE: dict[str, dict[str, Any]] = {}
for _domain in DOMAINS:
    ZONE[_domain] = {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]}
    ZONE[f"_dmarc.{_domain}"] = {"TXT": ["v=DMARC1; p=reject"]}


@pytest.fixture(scope="module")
def zone() -> Iterator[ZoneServer]:
    with ZoneServer(ZONE) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, zone: ZoneServer) -> Settings:
    return Settings(data_dir=tmp_path, dns={"nameservers": ["127.0.0.1"], "port": zone.port})


def message(domain: str) -> bytes:
    return f"From: news@{domain}\r\nSubject: hi\r\n\r\nbody\r\n".encode()


def test_pool_checks_many_senders_in_few_calls(spawn, settings, zone):
    checkers = [spawn(AuthCheckerActor, settings) for _ in range(2)]

    async def run() -> list[tuple[SenderCheck, Any]]:
        service = RayAuthService(checkers)
        senders = await asyncio.gather(
            *(
                service.check_sender("192.0.2.7" if n % 2 else "198.51.100.1", f"mx.{d}", f"a@{d}")
                for n, d in enumerate(DOMAINS)
            )
        )
        results = await asyncio.gather(
            *(service.check_message(message(d), s) for d, s in zip(DOMAINS, senders, strict=True))
        )
        return list(zip(senders, results, strict=True))

    outcomes = asyncio.run(run())
    for n, (sender, results) in enumerate(outcomes):
        expected = SpfWord.PASS if n % 2 else SpfWord.FAIL
        assert sender.spf is not None and sender.spf.result is expected
        assert results.dmarc is not None
        # Unsigned mail: DMARC passes only through aligned SPF.
        assert results.dmarc.result is (DmarcWord.PASS if n % 2 else DmarcWord.FAIL)
    # Each SPF record was fetched once however many sessions asked: the checker caches it,
    # and every request for a domain goes to the same checker.
    for domain in DOMAINS:
        assert len([q for q in zone.queries_for(domain, "TXT")]) == 1


def test_sharding_is_stable_and_spreads():
    shards = [shard_of(d, 2) for d in DOMAINS]
    assert shards == [shard_of(d.upper(), 2) for d in DOMAINS]
    assert set(shards) == {0, 1}


def test_a_dead_checker_fails_the_waiters(spawn, settings):
    checker = spawn(AuthCheckerActor, settings)
    ray.kill(checker, no_restart=True)

    async def run() -> None:
        await RayAuthService([checker]).check_sender("192.0.2.7", "mx.d0.example", "a@d0.example")

    with pytest.raises(CheckUnavailable) as caught:
        asyncio.run(run())
    assert isinstance(caught.value.__cause__, ray.exceptions.RayActorError)


class _HeldMethod:
    """Stands in for an actor method: records each batch, answers when the test says."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.replies: list[asyncio.Future[list[Any]]] = []

    def remote(self, requests: list[Any]) -> asyncio.Future[list[Any]]:
        self.batches.append(list(requests))
        reply: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.replies.append(reply)
        return reply

    def answer_all(self) -> None:
        for batch, reply in zip(self.batches, self.replies, strict=True):
            if not reply.done():
                reply.set_result([f"checked {r[2]}" for r in batch])


class _HeldChecker:
    def __init__(self) -> None:
        self.check_senders = _HeldMethod()


def test_batches_grow_while_calls_are_out():
    checker = _HeldChecker()

    async def run() -> list[Any]:
        service = RayAuthService([checker], max_calls_per_actor=1)
        first = asyncio.ensure_future(service.check_sender("192.0.2.1", "h", "a@d0.example"))
        await asyncio.sleep(0.01)
        assert len(checker.check_senders.batches) == 1
        later = [
            asyncio.ensure_future(service.check_sender("192.0.2.1", "h", f"b{n}@d0.example"))
            for n in range(5)
        ]
        await asyncio.sleep(0.01)
        assert len(checker.check_senders.batches) == 1  # the one call slot is taken
        checker.check_senders.answer_all()
        await asyncio.sleep(0.01)
        assert [len(b) for b in checker.check_senders.batches] == [1, 5]
        checker.check_senders.answer_all()
        return await asyncio.gather(first, *later)

    results = asyncio.run(run())
    assert results == ["checked a@d0.example"] + [f"checked b{n}@d0.example" for n in range(5)]
