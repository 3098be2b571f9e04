"""The ports handed to servers started later: free, and out of the range the OS picks
from itself (where an outgoing connection could take one before its server binds it)."""

from __future__ import annotations

import random
import socket

import pytest

from load.targets import LISTEN_PORTS, free_loopback_port


def test_a_port_is_free_and_below_the_ephemeral_range() -> None:
    ports = {free_loopback_port() for _ in range(20)}
    assert all(port in LISTEN_PORTS for port in ports)
    assert max(LISTEN_PORTS) < 32768  # Linux's ephemeral range starts there
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_loopback_port()))
        taken.listen()
        held = taken.getsockname()[1]
        spare = free_loopback_port()
        offered = iter([held, held, spare])
        monkeypatch.setattr(random, "choice", lambda ports: next(offered))
        assert free_loopback_port() == spare
