"""Postfix relaying to the sink fleet: the baseline of the outbound delivery benchmark.

A private Postfix instance (``load.postfix_target``: started as root from a temporary
directory, the system's Postfix untouched) accepts mail on one loopback port for the fleet's
destination domains ``d0.test`` … and relays each to its domain's sink, with its queue on disk
as usual (queue files fsync'd before the 250).

Routing is by ``transport_maps``, not by DNS: Postfix's smtp client reads the system resolver
(``/etc/resolv.conf``), which cannot be pointed at a DNS server on a loopback port other than
53. So an ``inline:`` map sends ``d{i}.test`` to ``smtp:[127.0.0.(10+i)]:PORT`` — the address
the ``d{i}.test`` MX record gives MaiRust through the loopback DNS server — and any other
domain to the ``error`` transport (a bounce that no sink counts). MaiRust pays for an MX and an
A lookup (cached for the records' TTL) that Postfix does not.

Every other setting is Postfix's default (3.7), among them: ``default_process_limit = 100``
(at most 100 smtp client processes), ``default_destination_concurrency_limit = 20`` (sessions
per destination, the concurrency window starting at 5), ``smtp_connection_cache_on_demand =
yes`` (sessions reused while a destination has a backlog, ``smtp_connection_cache_time_limit
= 2s``), ``default_destination_recipient_limit = 50``, ``in_flow_delay = 1s``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

from load.postfix_target import PostfixInstance, private_postfix
from load.sink_fleet import SinkFleet

NO_ROUTE = "error:5.1.2 no route to this domain in the benchmark's transport map"


def transport_map(fleet: SinkFleet) -> str:
    """An ``inline:`` table: each destination domain to its sink's address and port."""
    entries = ", ".join(f"{sink.domain}=smtp:[{sink.address}]:{sink.port}" for sink in fleet.sinks)
    return f"inline:{{ {entries} }}"


def relay_main_cf(fleet: SinkFleet) -> str:
    """The lines added to the private instance's main.cf."""
    return f"transport_maps = {transport_map(fleet)}\n"


@contextlib.contextmanager
def postfix_relay(
    port: int,
    fleet: SinkFleet,
    *,
    start_timeout: float = 60.0,
    drain_timeout: float = 120.0,
) -> Iterator[PostfixInstance]:
    """A private Postfix on 127.0.0.1:``port`` relaying the fleet's domains to their sinks,
    greeting when the block starts, stopped once its queue is empty (at most
    ``drain_timeout``) when it ends."""
    with private_postfix(
        port,
        ", ".join(fleet.domains),
        NO_ROUTE,
        start_timeout=start_timeout,
        drain_timeout=drain_timeout,
        extra_main_cf=relay_main_cf(fleet),
    ) as instance:
        wait_for_greeting(port, start_timeout)
        yield instance


def wait_for_greeting(port: int, timeout: float) -> None:
    """Until 127.0.0.1:``port`` greets with 220 (Postfix's master forks: no child to watch)."""
    give_up = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                greeting = connection.makefile("rb").readline()
                connection.sendall(b"QUIT\r\n")
            if greeting.startswith(b"220"):
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > give_up:
            raise RuntimeError(f"no SMTP greeting on 127.0.0.1:{port} within {timeout:.0f} s")
        time.sleep(0.05)


def wait_relayed(
    instance: PostfixInstance, fleet: SinkFleet, total: int, timeout: float
) -> float | None:
    """Wait until the sinks have counted ``total`` messages and Postfix's queue is empty;
    return the seconds it took, or None at ``timeout``."""
    started = time.monotonic()
    if not fleet.wait_for_messages(total, timeout):
        return None
    while instance.queued() > 0:
        if time.monotonic() - started > timeout:
            return None
        time.sleep(0.02)
    return time.monotonic() - started
