"""The periodic DMARC report sending on an injected clock: the last full period's reports
go out once (claimed first, so a second run, a restart or the CLI sends nothing more), the
next period's when its time comes; a store outage is waited out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.results import AuthResults, DmarcResult, DmarcWord
from mairust.config import DmarcReportSettings, Settings
from mairust.errors import StorageUnavailable
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.outbound.dmarc_report_loop import DmarcReportLoop, last_period_end
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.dns_server import ZoneServer
from tests.support.sqlite_template import migrate_for_test

DAY = datetime(2026, 11, 29, tzinfo=UTC)
SETTINGS = DmarcReportSettings(enabled=True, org_name="mx.ours.test", sender="r@ours.test")
ZONE = {"_dmarc.far.test": {"TXT": ["v=DMARC1; p=none; rua=mailto:dmarc@far.test"]}}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


def received(stores: Stores, at: datetime) -> None:
    results = AuthResults(dmarc=DmarcResult(DmarcWord.PASS, "far.test", "none", True))
    envelope = Envelope("x@far.test", ("u@ours.test",), at, client_ip="192.0.2.1")
    ref = MessageRef(new_id(), 1, "0" * 64, "0" * 64)
    stores.metadata.commit_messages([SpoolRecord(ref, envelope, results.to_json())])


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_last_full_period_ends_on_its_boundary() -> None:
    now = datetime(2026, 11, 30, 13, 5, 7, tzinfo=UTC)
    assert last_period_end(now, 86400) == datetime(2026, 11, 30, tzinfo=UTC)
    assert last_period_end(now, 3600) == datetime(2026, 11, 30, 13, tzinfo=UTC)


async def test_each_period_is_sent_once(stores: Stores) -> None:
    received(stores, DAY + timedelta(hours=5))  # reported in the period ending DAY + 1 day
    received(stores, DAY + timedelta(days=1, hours=5))  # and this one in the next
    clock = Clock(DAY + timedelta(days=1, hours=2))
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    try:
        with ZoneServer(ZONE) as dns:
            resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0)
            loop = DmarcReportLoop(stores.metadata, spool, resolver, SETTINGS, clock=clock)
            first = await loop.run_once()
            assert first is not None and first.sent == ("far.test",)
            assert first.period_end == DAY + timedelta(days=1)
            clock.now += timedelta(hours=20)  # the same period still: nothing more
            assert await loop.run_once() is None
            # A second process (or a restart) finds the period claimed too.
            other = DmarcReportLoop(stores.metadata, spool, resolver, SETTINGS, clock=clock)
            assert await other.run_once() is None
            clock.now += timedelta(hours=3)  # the next day: its period goes out
            second = await loop.run_once()
            assert second is not None and second.sent == ("far.test",)
    finally:
        await spool.stop()
    assert len(stores.metadata.list_outbound()) == 2


class Stop(Exception):
    pass


async def test_the_loop_waits_out_a_store_outage_and_polls(stores: Stores) -> None:
    class Down:
        def claim_dmarc_period(self, period_end: datetime, claimed_at: datetime) -> bool:
            raise StorageUnavailable("down")

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            raise Stop

    progress: list[int] = []
    loop = DmarcReportLoop(
        Down(),  # type: ignore[arg-type]
        Spool(stores.metadata, stores.blobs),
        CachingResolver(["127.0.0.1"], port=9, timeout=0.1),
        SETTINGS,
        clock=Clock(DAY),
        sleep=sleep,
    )
    with pytest.raises(Stop):
        await loop.run(lambda: progress.append(1))
    assert slept == [600.0, 600.0] and progress == []
