"""Which TCP sockets a set of processes listens on, read from /proc (for loopback checks)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

LOOPBACK_PREFIXES = (
    "127.",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "0000:0000:0000:0000:0000:ffff:7f",
)


def session_pids(sid: int) -> list[int]:
    """Every live process in session ``sid`` (Ray puts its workers in process groups of
    their own, but they stay in the session that started them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def listening_sockets() -> dict[str, str]:
    """inode -> local address ("ip:port") of every listening TCP socket on the machine."""
    found = {}
    for table, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            address, port = fields[1].split(":")
            found[fields[9]] = f"{_decode(address, family)}:{int(port, 16)}"
    return found


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass  # the process ended meanwhile
    return inodes


def listening_by_pid(pids: Iterable[int]) -> dict[int, list[str]]:
    """pid -> the addresses it listens on, for the given processes that listen at all."""
    sockets = listening_sockets()
    ours: dict[int, list[str]] = {}
    for pid in pids:
        addresses = [sockets[inode] for inode in socket_inodes(pid) if inode in sockets]
        if addresses:
            ours[pid] = addresses
    return ours


def beyond_loopback(addresses: Iterable[str]) -> list[str]:
    return [address for address in addresses if not address.startswith(LOOPBACK_PREFIXES)]


def _decode(hex_address: str, family: int) -> str:
    raw = bytes.fromhex(hex_address)
    if family == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    return ":".join(b"".join(words).hex()[i : i + 4] for i in range(0, 32, 4))
