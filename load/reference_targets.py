"""The servers of the reference run, each started on a free loopback port as an ``Endpoint``.

Owns which targets exist, how each one starts and stops, and how to tell that it has passed
on what it accepted:

- ``sink``: Postfix's ``smtp-sink``, which discards (the client's ceiling), counting messages;
- ``postfix``: Postfix durable accept (``load.postfix_target``), settled when its queue is empty;
- ``postfix-relay``: Postfix relaying to a counting smtp-sink, settled when the sink has all;
- ``aiosmtpd``: bare aiosmtpd discarding in one process (``load.bench_accept``);
- ``mairust``: ``mairust up`` embedded, checks off (the loopback client is trusted);
- ``mairust-2fe``: the same with ``[smtp] frontends_per_node = 2`` (two front-end processes
  sharing the port through ``SO_REUSEPORT``);
- ``mairust-checks``: the same with SPF + one rsa-2048 DKIM signature + DMARC checked on every
  message: a loopback DNS zone, ``[auth] trusted_networks = []``, messages signed one by one
  and sent with ``smtp_load`` (smtp-source sends one file for every message);
- ``mairust-production``: ``mairust up`` on PostgreSQL + S3 + OpenSearch (MAIRUST_TEST_*).

A ``mairust`` target is settled when its queue (``GET /api/v1/queue/stats``) has no queued or
leased row and ``done`` + ``failed`` rows reach what was sent: accepted and in the mailboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from load.bench_accept import start_discarding_aiosmtpd
from load.mairust_target import (
    add_users,
    log_tail,
    mairust_binary,
    production_config,
    running_mairust_up,
)
from load.postfix_target import DISCARD, counting_sink, private_postfix
from load.reference import RECIPIENT_DOMAIN, Endpoint, ReferenceRun
from load.signed_mail import SignedMessages, SigningDomain
from load.targets import free_loopback_port, stop_process, wait_for_greeting

log = logging.getLogger("load.reference")

POLL_SECONDS = 0.05
API_POLL_SECONDS = 0.2  # the API shares the CPU with the target: ask it less often
SIGNING_DOMAIN = "sender.test"

StartTarget = Callable[[ReferenceRun, Path], AbstractAsyncContextManager[Endpoint]]
Prepare = Callable[[str, Path, Path | None], str | None]


@dataclass(frozen=True)
class TargetOptions:
    mairust: str | None = None  # the mairust command; None: .venv/bin/mairust or PATH
    startup_timeout: float = 180.0


async def wait_until(what: str, condition: Callable[[], bool], within_seconds: float) -> None:
    give_up = time.monotonic() + within_seconds
    while not condition():
        if time.monotonic() > give_up:
            raise RuntimeError(f"{what} not within {within_seconds:.0f} s")
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def smtp_sink(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
    port = free_loopback_port()
    with counting_sink(port, workdir) as sink:
        assert sink.process is not None
        await wait_for_greeting(port, sink.process, within_seconds=15)
        yield Endpoint(port, count=sink.messages)


@contextlib.asynccontextmanager
async def postfix_durable(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
    port = free_loopback_port()
    with private_postfix(port, RECIPIENT_DOMAIN, DISCARD) as postfix:

        async def settle(total: int) -> None:
            await wait_until(
                "Postfix's queue emptying", lambda: postfix.queued() == 0, run.deadline
            )
            # Its log (written by postlogd, behind the queue) must show every delivery too.
            await wait_until(
                f"Postfix logging {total} deliveries",
                lambda: postfix.delivered() >= total,
                run.deadline,
            )

        await _greeting_of_daemon(port, run)
        yield Endpoint(port, settle=settle, count=postfix.delivered)


@contextlib.asynccontextmanager
async def postfix_relay(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
    sink_port, port = free_loopback_port(), free_loopback_port()
    with counting_sink(sink_port, workdir) as sink:
        assert sink.process is not None
        await wait_for_greeting(sink_port, sink.process, within_seconds=15)
        relay = f"smtp:[127.0.0.1]:{sink_port}"
        with private_postfix(port, RECIPIENT_DOMAIN, relay) as postfix:

            async def settle(total: int) -> None:
                await wait_until(
                    f"smtp-sink receiving {total} messages",
                    lambda: sink.messages() >= total,
                    run.deadline,
                )
                await wait_until(
                    "Postfix's queue emptying", lambda: postfix.queued() == 0, run.deadline
                )

            await _greeting_of_daemon(port, run)
            yield Endpoint(port, settle=settle, count=sink.messages)


async def _greeting_of_daemon(port: int, run: ReferenceRun) -> None:
    """Wait for a greeting from a server that is not our child (Postfix's master forks)."""
    give_up = time.monotonic() + 30
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            greeting = await asyncio.wait_for(reader.readline(), 5)
            writer.write(b"QUIT\r\n")
            writer.close()
            if greeting.startswith(b"220"):
                return
        except (OSError, TimeoutError):
            pass
        if time.monotonic() > give_up:
            raise RuntimeError(f"no SMTP greeting on 127.0.0.1:{port} within 30 s")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def aiosmtpd_bare(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
    port = free_loopback_port()
    process = start_discarding_aiosmtpd(port)
    try:
        await wait_for_greeting(port, process, within_seconds=15)
        yield Endpoint(port)
    finally:
        stop_process(process)


def admin_token(data_dir: Path) -> str:
    """The token `mairust up` generated for this data directory."""
    return (data_dir / "admin_token").read_text().strip()


def queue_stats(api_port: int, token: str) -> dict[str, int]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/api/v1/queue/stats",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        counts: dict[str, int] = json.load(response)["counts"]
        return counts


async def _mairust_stats(api_port: int, data_dir: Path, within_seconds: float) -> dict[str, int]:
    """The queue's counts once the API answers (it starts after the SMTP front-end)."""
    give_up = time.monotonic() + within_seconds
    while True:
        try:
            return await asyncio.to_thread(queue_stats, api_port, admin_token(data_dir))
        except (OSError, urllib.error.URLError, ValueError):
            if time.monotonic() > give_up:
                raise RuntimeError(
                    f"MaiRust's API did not answer within {within_seconds:.0f} s"
                ) from None
            await asyncio.sleep(API_POLL_SECONDS)


@contextlib.asynccontextmanager
async def mairust_up(
    run: ReferenceRun,
    options: TargetOptions,
    config_text: str | None = None,
    config_file: Path | None = None,
    messages: SignedMessages | None = None,
    sender: SigningDomain | None = None,
    prepare: Prepare | None = None,
) -> AsyncIterator[Endpoint]:
    """``prepare(binary, data_dir, config_file)``: more set-up before it starts (plugins to
    install, say); it returns what went wrong, if anything."""
    binary = mairust_binary(options.mairust)
    if binary is None:
        raise RuntimeError("no mairust command found (.venv/bin/mairust or PATH)")
    with tempfile.TemporaryDirectory(prefix="mairust-reference-") as tmp:
        data_dir = Path(tmp)
        if config_text is not None:
            config_file = data_dir / "reference.toml"
            config_file.write_text(config_text)
        problem = await asyncio.to_thread(add_users, binary, data_dir, [run.recipient], config_file)
        if problem is None and prepare is not None:
            problem = await asyncio.to_thread(prepare, binary, data_dir, config_file)
        if problem is not None:
            raise RuntimeError(problem)
        port, api_port = free_loopback_port(), free_loopback_port()
        with running_mairust_up(binary, data_dir, port, config_file, api_port=api_port) as process:
            try:
                await wait_for_greeting(port, process, within_seconds=options.startup_timeout)
                await _mairust_stats(api_port, data_dir, options.startup_timeout)
            except RuntimeError:
                log.error(
                    "mairust up failed; last lines of its log:\n%s",
                    log_tail(data_dir / "mairust-up.log"),
                )
                raise
            last: dict[str, int] = {}

            async def settle(total: int) -> None:
                give_up = time.monotonic() + run.deadline
                while True:
                    last.update(await _mairust_stats(api_port, data_dir, run.deadline))
                    through = last.get("done", 0) + last.get("failed", 0)
                    busy = last.get("queued", 0) + last.get("leased", 0)
                    if busy == 0 and through >= total:
                        return
                    if time.monotonic() > give_up:
                        raise RuntimeError(f"MaiRust's queue not drained: {last}")
                    await asyncio.sleep(API_POLL_SECONDS)

            yield Endpoint(
                port,
                settle=settle,
                count=lambda: last.get("done", 0),
                messages=messages,
                mail_from=None if sender is None else sender.mail_from,
                helo=None if sender is None else sender.helo,
                api=(f"http://127.0.0.1:{api_port}", admin_token(data_dir)),
                pid=process.pid,
            )


def checks_on_config(zone_port: int) -> str:
    """Every inbound check on, for every client (loopback too), DNS from the loopback zone.
    The admission limits for untrusted clients are off (no greeting pause, no per-IP
    connection or rate limit): the load comes from one address, and Postfix has none."""
    return (
        "[auth]\nenabled = true\ntrusted_networks = []\n"
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {zone_port}\n'
        "[admission]\ngreet_pause_seconds = 0\nmax_connections_per_ip = 1000\n"
        "messages_per_minute_per_ip = 0\n"
    )


def start_mairust(options: TargetOptions) -> StartTarget:
    def start(run: ReferenceRun, workdir: Path) -> AbstractAsyncContextManager[Endpoint]:
        return mairust_up(run, options)

    return start


def start_mairust_frontends(options: TargetOptions, frontends: int) -> StartTarget:
    config = f"[smtp]\nfrontends_per_node = {frontends}\n"

    def start(run: ReferenceRun, workdir: Path) -> AbstractAsyncContextManager[Endpoint]:
        return mairust_up(run, options, config)

    return start


def start_mairust_checks(options: TargetOptions) -> StartTarget:
    @contextlib.asynccontextmanager
    async def start(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
        from tests.support.dns_server import ZoneServer  # the loopback zone of the tests

        domain = SigningDomain.generate(SIGNING_DOMAIN)
        count = max(run.messages, run.latency_messages, run.warmup)
        signed = await asyncio.to_thread(SignedMessages, domain, run.recipient, run.size, count)
        with ZoneServer(domain.records(), ttl=86_400) as zone:
            async with mairust_up(
                run, options, checks_on_config(zone.port), None, signed, domain
            ) as endpoint:
                yield endpoint

    return start


def start_mairust_production(options: TargetOptions) -> StartTarget:
    @contextlib.asynccontextmanager
    async def start(run: ReferenceRun, workdir: Path) -> AsyncIterator[Endpoint]:
        if "MAIRUST_TEST_POSTGRES_URL" not in os.environ:
            raise RuntimeError("MAIRUST_TEST_* not set: run under .ci/with-services.sh")
        config = await asyncio.to_thread(production_config, workdir)
        async with mairust_up(run, options, config_file=config) as endpoint:
            yield endpoint

    return start


def all_targets(options: TargetOptions) -> dict[str, tuple[str, StartTarget]]:
    """Key → (row name, how to start it), in the order of the table."""
    return {
        "sink": ("smtp-sink (discards)", smtp_sink),
        "postfix": ("Postfix durable accept", postfix_durable),
        "postfix-relay": ("Postfix relay → smtp-sink", postfix_relay),
        "aiosmtpd": ("aiosmtpd bare (discards)", aiosmtpd_bare),
        "mairust": ("mairust up (embedded, checks off)", start_mairust(options)),
        "mairust-2fe": (
            "mairust up (embedded, checks off, 2 front-ends)",
            start_mairust_frontends(options, 2),
        ),
        "mairust-checks": (
            "mairust up (embedded, SPF+DKIM+DMARC)",
            start_mairust_checks(options),
        ),
        "mairust-production": (
            "mairust up (PostgreSQL + S3 + OpenSearch)",
            start_mairust_production(options),
        ),
    }
