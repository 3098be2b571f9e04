"""Scenario: every socket that `mairust up` and its Ray processes listen on is on loopback."""

from __future__ import annotations

from tests.support.sockets import beyond_loopback, listening_by_pid


def test_everything_listens_on_loopback(shared_server):
    ours = listening_by_pid(shared_server.pids())
    addresses = [address for listened in ours.values() for address in listened]
    assert any(address.endswith(f":{shared_server.smtp_port}") for address in addresses)
    assert any(address.endswith(f":{shared_server.api_port}") for address in addresses)
    assert beyond_loopback(addresses) == [], f"listening beyond loopback: {ours}"
