"""Scenario: every socket that `mairust up` and its Ray processes listen on is on loopback."""

from __future__ import annotations

import os
from pathlib import Path


def listening_sockets() -> dict[str, str]:
    """inode -> local address of every listening TCP socket on the machine."""
    found = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            address, port = fields[1].split(":")
            found[fields[9]] = decode(address, family) + f":{int(port, 16)}"
    return found


def decode(hex_address: str, family: int) -> str:
    raw = bytes.fromhex(hex_address)
    if family == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    return ":".join(b"".join(words).hex()[i : i + 4] for i in range(0, 32, 4))


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


LOOPBACK_PREFIXES = (
    "127.",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "0000:0000:0000:0000:0000:ffff:7f",
)


def test_everything_listens_on_loopback(shared_server):
    sockets = listening_sockets()
    ours = {}
    for pid in shared_server.pids():
        for inode in socket_inodes(pid):
            if inode in sockets:
                ours[sockets[inode]] = pid
    assert any(addr.endswith(f":{shared_server.smtp_port}") for addr in ours)
    assert any(addr.endswith(f":{shared_server.api_port}") for addr in ours)
    outside = {addr: pid for addr, pid in ours.items() if not addr.startswith(LOOPBACK_PREFIXES)}
    assert outside == {}, f"listening beyond loopback: {outside}"
