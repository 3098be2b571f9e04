"""The processes of one ``mairust up``: every process of its session, named as Ray names
them, with the CPU seconds each has used so far (read from /proc, Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def session_cpu(sid: int) -> dict[int, tuple[str, float]]:
    """pid -> (process name, CPU seconds so far) for every live process of session ``sid``."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended meanwhile
        if int(fields[3]) != sid:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        found[int(entry.name)] = (process_name(command), seconds)
    return found


def process_name(command: list[bytes]) -> str:
    words = [word.decode(errors="replace") for word in command if word]
    if not words:
        return "?"
    first = words[0].strip()
    if first.startswith("ray::") or ("/" not in first and " " in first):
        return first.split()[0]  # a Ray worker's title: ray::FrontEndHost, ray::IDLE
    for word in words[1:3]:
        if word.endswith(".py"):  # python .../dashboard/agent.py
            return "/".join(Path(word).parts[-2:])
    if Path(first).name.startswith("python") and len(words) > 1 and words[1][0] != "-":
        return Path(words[1]).name  # a console script: python .../bin/mairust
    return Path(first).name
