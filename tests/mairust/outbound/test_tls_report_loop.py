"""The daily TLS report sending on an injected clock: a day's reports go out once, from
``send_hour`` of the next day on (a second run, or a second process, sends nothing more);
counts older than ``keep_days`` are forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mairust.auth.dns_resolver import CachingResolver
from mairust.config import Settings, TlsReportSettings
from mairust.model.tls_reports import TlsResultCount, TlsResultKey
from mairust.outbound.tls_report_loop import TlsReportLoop, due_day
from mairust.outbound.tls_report_sender import ReportSender, report_http_client
from mairust.spool import Spool
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.dns_server import ZoneServer
from tests.support.sqlite_template import migrate_for_test

DAY = date(2026, 11, 29)
SETTINGS = TlsReportSettings(
    enabled=True, org_name="mx.ours.test", sender="r@ours.test", send_hour=2, keep_days=3
)
ZONE = {"_smtp._tls.far.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@far.test"]}}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_day_is_due_from_the_send_hour_of_the_next() -> None:
    assert due_day(datetime(2026, 11, 30, 1, 59, tzinfo=UTC), 2) == date(2026, 11, 28)
    assert due_day(datetime(2026, 11, 30, 2, 0, tzinfo=UTC), 2) == date(2026, 11, 29)
    assert due_day(datetime(2026, 11, 30, 23, 59, tzinfo=UTC), 0) == date(2026, 11, 29)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path)
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


@pytest.fixture
async def sender(stores: Stores) -> AsyncIterator[ReportSender]:
    spool = Spool(stores.metadata, stores.blobs)
    await spool.start()
    with ZoneServer(ZONE) as dns:
        resolver = CachingResolver(["127.0.0.1"], port=dns.port, timeout=1.0)
        http = report_http_client(SETTINGS, resolver)
        yield ReportSender(stores.metadata, spool, resolver, http, SETTINGS)
        await http.aclose()
    await spool.stop()


async def test_each_day_is_sent_once_and_old_counts_go(
    sender: ReportSender, stores: Stores
) -> None:
    store = stores.metadata
    for day in (DAY - timedelta(days=3), DAY, DAY + timedelta(days=1)):
        store.add_tls_results([TlsResultCount(TlsResultKey(day, "far.test", "sts"), 1)])
    clock = Clock(datetime(2026, 11, 30, 1, 30, tzinfo=UTC))
    loop = TlsReportLoop(sender, clock=clock)
    early = await loop.run_once()  # before send_hour: the 28th is due, it has no counts
    assert (early.day, early.sent) == (date(2026, 11, 28), {})
    clock.now += timedelta(minutes=30)
    first = await loop.run_once()
    assert (first.day, first.sent) == (DAY, {"far.test": ("mailto:tls@far.test",)})
    clock.now += timedelta(hours=20)  # the same day still: nothing more
    assert (await loop.run_once()).sent == {}
    other = TlsReportLoop(sender, clock=clock)  # another process, or a restart
    assert (await other.run_once()).sent == {}
    assert [r.recipient for r in store.list_outbound()] == ["tls@far.test"]
    # keep_days 3: the 26th's counts were forgotten, the 29th's and 30th's kept.
    assert store.tls_results(DAY - timedelta(days=3)) == []
    assert store.tls_results(DAY) and store.tls_results(DAY + timedelta(days=1))
    clock.now += timedelta(hours=4)  # the 1st, 02:00: the 30th goes out
    second = await loop.run_once()
    assert (second.day, list(second.sent)) == (DAY + timedelta(days=1), ["far.test"])
    assert len(store.list_outbound()) == 2
