"""The sink fleet: real smtp-sinks on 127.0.0.10.., each counting exactly the messages and
sessions smtplib sends it (connection reuse shows as messages over sessions), its dump naming
every recipient, its DNS records leading each domain to its sink through the loopback DNS
server, and every sink gone when the block ends."""

from __future__ import annotations

import smtplib
import socket
import time

import dns.resolver
import pytest

from load.sink_fleet import (
    Counters,
    destination_domain,
    destinations,
    free_fleet_port,
    sink_address,
    sink_fleet,
    zone_records,
)


def send(address: str, port: int, recipients: list[str], per_connection: int) -> None:
    """One message per recipient, ``per_connection`` of them over each connection."""
    for start in range(0, len(recipients), per_connection):
        with smtplib.SMTP(address, port, timeout=10) as client:
            for index, recipient in enumerate(recipients[start : start + per_connection]):
                message = f"Message-ID: <{start + index}.{recipient}>\r\n\r\nhello\r\n"
                client.sendmail("sender@outbound.test", [recipient], message)


def test_each_sink_counts_exactly_the_messages_and_sessions_it_was_sent() -> None:
    with sink_fleet(10, port=None, dump=True) as fleet:
        assert [sink.address for sink in fleet.sinks] == [f"127.0.0.{10 + i}" for i in range(10)]
        assert fleet.counters() == [Counters()] * 10  # the readiness probe is not counted
        for sink in fleet.sinks:
            recipients = [f"user{n}@{sink.domain}" for n in range(sink.index + 1)]
            # Even sinks: all over one connection; odd ones: a connection per message.
            send(sink.address, sink.port, recipients, len(recipients) if sink.index % 2 else 1)
        assert fleet.wait_for_messages(55, timeout=10)
        assert fleet.wait_for_sessions(5 * 1 + (1 + 3 + 5 + 7 + 9), timeout=10)
        for sink in fleet.sinks:
            sessions = 1 if sink.index % 2 else sink.index + 1
            assert sink.counters() == Counters(sessions, sessions, sink.index + 1), sink.address
            assert sink.recipients() == [f"user{n}@{sink.domain}" for n in range(sink.index + 1)]
            assert len(set(sink.message_ids())) == sink.index + 1
        assert (fleet.messages(), fleet.sessions()) == (55, 5 * 1 + (1 + 3 + 5 + 7 + 9))
        first = fleet.sinks[0]
        since = first.dumped_bytes()
        send(first.address, first.port, ["late@d0.test"], 1)
        assert fleet.wait_for_messages(56, timeout=10)
        give_up = time.monotonic() + 10
        while not first.transactions(since) and time.monotonic() < give_up:
            time.sleep(0.01)  # the dump may trail the counter by a moment
        (late,) = first.transactions(since)  # only what came after the offset
        assert b"X-Rcpt-Args: <late@d0.test>" in late


def test_the_zone_leads_each_destination_domain_to_its_sink() -> None:
    null_mx = {"nullmx.test": {"MX": [(0, "")]}}
    with destinations(3, port=None, records=null_mx, servfail_names=["broken.test"]) as (
        fleet,
        zone,
    ):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], zone.port
        for sink in fleet.sinks:
            (mx,) = resolver.resolve(sink.domain, "MX")
            (address,) = resolver.resolve(mx.exchange, "A")
            assert (mx.exchange.to_text(omit_final_dot=True), address.to_text()) == (
                sink.mx,
                sink.address,
            )
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve(destination_domain(3), "MX")  # no fourth sink, no fourth domain
        (null,) = resolver.resolve("nullmx.test", "MX")
        assert (null.preference, null.exchange.to_text()) == (0, ".")
        with pytest.raises(dns.resolver.NoNameservers):  # every server said SERVFAIL
            resolver.resolve("broken.test", "MX")
    assert zone_records(1) == {
        "d0.test": {"MX": [(10, "mx0.d0.test")], "TTL": 86_400},
        "mx0.d0.test": {"A": ["127.0.0.10"], "TTL": 86_400},
    }


def test_every_sink_is_stopped_and_its_port_freed_when_the_block_ends() -> None:
    with sink_fleet(4, port=None) as fleet:
        port, processes = fleet.port, [sink.process for sink in fleet.sinks]
        send(fleet.sinks[0].address, port, ["a@d0.test"], 1)
    assert all(process is not None and process.poll() is not None for process in processes)
    assert free_fleet_port([sink_address(i) for i in range(4)]) > 0
    for index in range(4):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((sink_address(index), port))  # nothing listens there any more


def test_a_fleet_has_one_to_ten_sinks() -> None:
    for count in (0, 11):
        with pytest.raises(ValueError), sink_fleet(count, port=None):
            pass
