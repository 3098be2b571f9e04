"""ACME renewal: when a certificate is due (an injected wall clock), the atomic pair it
writes, the stand-in before the first one, the supervised loop that retries with backoff;
and against a real Pebble, a running SMTP front-end that serves the issued certificate,
then the renewed one, over STARTTLS with no restart."""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import stat
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509

from mairust.config import AcmeSettings, Settings
from mairust.smtp.acme_client import AcmeFailed, IssuedCertificate
from mairust.smtp.acme_renewal import (
    AcmeRenewer,
    certificate_status,
    ensure_stand_in,
    renewal_backoff,
    renewal_supervisor,
    renewer_from_settings,
    utc_now,
    write_pair,
)
from mairust.smtp.tls import ReloadingTls
from tests.support.pebble import RunningPebble, acme_world, free_port, starttls_certificate
from tests.support.tls_ca import LoopbackCa

if TYPE_CHECKING:
    # Fixture types; conftest is not importable at run time (importlib mode).
    from tests.mairust.smtp.conftest import StartMta

NAME = "mail.renewal.test"
DAY = datetime.timedelta(days=1)


class FakeCa:
    """``issue(domains)`` from a LoopbackCa (certificates valid one day), failing the
    first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.ca = LoopbackCa("Renewal Test CA")
        self.failures = failures
        self.calls: list[list[str]] = []

    def __call__(self, domains: Sequence[str]) -> IssuedCertificate:
        self.calls.append(list(domains))
        if len(self.calls) <= self.failures:
            raise AcmeFailed(f"order {len(self.calls)} refused")
        cert_file, key_file = self.ca.issue(*domains)
        return IssuedCertificate(cert_file.read_bytes(), key_file.read_bytes())


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime.datetime:
        return self.now


def serial_of(cert_file: Path) -> int:
    return x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number


def renewer(
    tmp_path: Path,
    issue: FakeCa,
    clock: Clock,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **kwargs: float,
) -> AcmeRenewer:
    return AcmeRenewer(
        issue,
        [NAME],
        tmp_path / "tls" / "cert.pem",
        tmp_path / "tls" / "key.pem",
        renew_before_days=kwargs.get("renew_before_days", 0.5),
        check_interval_seconds=kwargs.get("check_interval_seconds", 3600.0),
        clock=clock,
        sleep=sleep,
    )


def test_status_is_due_when_missing_self_signed_short_of_a_name_or_expiring(
    tmp_path: Path,
) -> None:
    ca = LoopbackCa("Status CA")
    now = utc_now()
    missing = certificate_status(tmp_path / "none.pem", [NAME], DAY / 2, now)
    assert missing.due is not None and missing.due.startswith("no certificate")

    stand_in, _ = tmp_path / "s.pem", tmp_path / "s.key"
    ensure_stand_in(stand_in, tmp_path / "s.key", NAME)
    assert certificate_status(stand_in, [NAME], DAY / 2, now).due == (
        "the certificate is self-signed (a stand-in)"
    )

    issued, _ = ca.issue(NAME)  # valid for one more day
    fresh = certificate_status(issued, [NAME.upper()], DAY / 2, now)
    assert fresh.due is None and fresh.names == (NAME,) and "Status CA" in fresh.issuer
    lacking = certificate_status(issued, [NAME, "other.renewal.test"], DAY / 2, now)
    assert lacking.due == "the certificate lacks other.renewal.test"
    late = certificate_status(issued, [NAME], DAY / 2, now + DAY * 0.6)
    assert late.due is not None and late.due.startswith("the certificate expires in 0.4")


def test_write_pair_replaces_both_files_whole_with_private_key_mode(tmp_path: Path) -> None:
    cert_file, key_file = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    write_pair(cert_file, key_file, b"cert one", b"key one")
    first_inode = cert_file.stat().st_ino
    write_pair(cert_file, key_file, b"cert two", b"key two")
    assert (cert_file.read_bytes(), key_file.read_bytes()) == (b"cert two", b"key two")
    assert cert_file.stat().st_ino != first_inode  # renamed into place, not rewritten
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_file.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path / "tls")) == ["cert.pem", "key.pem"]  # no temporaries


def test_stand_in_is_written_once_and_loads(tmp_path: Path) -> None:
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    assert ensure_stand_in(cert_file, key_file, NAME)
    before = cert_file.read_bytes()
    assert not ensure_stand_in(cert_file, key_file, NAME)
    assert cert_file.read_bytes() == before
    ReloadingTls(cert_file, key_file)  # a pair the listeners start with


async def test_renews_only_when_due_by_the_injected_clock(tmp_path: Path) -> None:
    ca, clock = FakeCa(), Clock()
    acme = renewer(tmp_path, ca, clock)
    assert await acme.renew_if_due()  # nothing there yet
    first = serial_of(acme.cert_file)
    assert not await acme.renew_if_due()
    clock.now += DAY * 0.4  # 0.6 days left of 1; renewal at 0.5
    assert not await acme.renew_if_due()
    clock.now += DAY * 0.2
    assert await acme.renew_if_due()
    assert serial_of(acme.cert_file) != first
    assert await acme.renew_if_due(force=True)
    assert ca.calls == [[NAME]] * 3 and acme.renewals == 3


async def test_a_failed_order_writes_nothing_and_raises(tmp_path: Path) -> None:
    acme = renewer(tmp_path, FakeCa(failures=1), Clock())
    ensure_stand_in(acme.cert_file, acme.key_file, NAME)
    before = acme.cert_file.read_bytes()
    with pytest.raises(AcmeFailed, match="order 1 refused"):
        await acme.renew_if_due()
    assert acme.cert_file.read_bytes() == before


async def test_loop_survives_failed_orders_and_retries_after_a_backoff(tmp_path: Path) -> None:
    ca, clock = FakeCa(failures=2), Clock()
    waits: list[float] = []
    checked = asyncio.Event()

    async def sleep(seconds: float) -> None:
        # The wait for the next check: the test looks now (and that wait never ends).
        waits.append(seconds)
        checked.set()
        await asyncio.Event().wait()

    acme = renewer(tmp_path, ca, clock, sleep, check_interval_seconds=3600.0)
    settings = AcmeSettings(retry_first_seconds=0.01, retry_max_seconds=0.02)
    supervisor = renewal_supervisor(acme, settings)
    task = asyncio.create_task(supervisor.run())
    try:
        await asyncio.wait_for(checked.wait(), 10)
        assert acme.renewals == 1 and waits == [3600.0]
        state = supervisor.state
        assert state.running and not state.gave_up  # now waiting for its next check
        assert state.restarts == 2 and state.last_error == "AcmeFailed: order 2 refused"
        assert state.seconds_since_progress is not None
        assert len(ca.calls) == 3 and acme.status().due is None
    finally:
        supervisor.stop()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_backoff_doubles_to_its_cap_never_gives_up_and_resets_after_a_check() -> None:
    backoff = renewal_backoff(
        AcmeSettings(retry_first_seconds=60, retry_max_seconds=600, check_interval_seconds=900)
    )
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 20)] == [60, 120, 240, 480, 600, 600]
    assert backoff.give_up_after is None and backoff.healthy_after == 900


# -- against Pebble ----------------------------------------------------------------------

ADDRESS = "127.0.0.112"  # where NAME resolves, and the challenge listener


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[RunningPebble, int]]:
    http_port = free_port(ADDRESS)
    with acme_world(tmp_path / "pebble", {NAME: ADDRESS}, http_port) as pebble:
        yield pebble, http_port


async def test_listener_serves_the_issued_then_the_renewed_certificate_without_restart(
    tmp_path: Path, world: tuple[RunningPebble, int], start_mta: StartMta
) -> None:
    pebble, http_port = world
    tls = tmp_path / "tls"
    settings = Settings(
        data_dir=tmp_path,
        smtp={"tls_cert_file": tls / "cert.pem", "tls_key_file": tls / "key.pem"},
        acme={
            "enabled": True,
            "directory_url": pebble.directory_url,
            "ca_file": str(pebble.ca_file),
            "email": "postmaster@renewal.test",
            "domains": [NAME],
            "http_address": ADDRESS,
            "http_port": http_port,
        },
    )
    clock = Clock()
    acme = renewer_from_settings(settings, clock=clock)
    assert ensure_stand_in(acme.cert_file, acme.key_file, NAME)
    mta = await start_mta(
        tls_cert_file=acme.cert_file, tls_key_file=acme.key_file, tls_reload_seconds=0
    )
    root = tmp_path / "pebble-root.pem"
    root.write_bytes(await asyncio.to_thread(pebble.root_pem))
    intermediate = x509.load_pem_x509_certificate(await asyncio.to_thread(pebble.intermediate_pem))

    with pytest.raises(ssl.SSLCertVerificationError):  # the stand-in: nobody trusts it
        await asyncio.to_thread(starttls_certificate, mta.port, NAME, root)

    assert await acme.renew_if_due()
    issued = await asyncio.to_thread(starttls_certificate, mta.port, NAME, root)
    assert issued.issuer == intermediate.subject
    assert acme.status().due is None
    assert stat.S_IMODE(settings.acme.account_key_file.stat().st_mode) == 0o600  # type: ignore[union-attr]

    clock.now = issued.not_valid_after_utc - DAY * 29  # 30 days before is when it renews
    assert await acme.renew_if_due()
    renewed = await asyncio.to_thread(starttls_certificate, mta.port, NAME, root)
    assert renewed.issuer == intermediate.subject
    assert renewed.serial_number != issued.serial_number
    assert renewed.public_key() != issued.public_key()  # a new key with each certificate
