"""Where a running ``mairust up`` can be reached by a Ray driver: a file in its data dir.

``mairust up`` starts a Ray of its own on a port Ray picks, so nothing else knows its GCS
address. It records the address (and its own pid) in ``ray-address.json`` in the data dir
once Ray is up, and removes the file at stop; ``mairust cluster status`` reads it. After a
kill -9 the file stays behind: the pid in it tells a stale record from a live one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

ADDRESS_FILE = "ray-address.json"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedAddress:
    address: str  # the GCS address, host:port
    pid: int  # the `mairust up` process that recorded it

    def owner_alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, run by another user
            return True
        return True


def record_address(data_dir: Path, address: str, pid: int | None = None) -> None:
    """Write the record atomically (a reader never sees half a file)."""
    path = data_dir / ADDRESS_FILE
    partial = path.with_suffix(".tmp")
    record = {"address": address, "pid": os.getpid() if pid is None else pid}
    partial.write_text(json.dumps(record) + "\n", encoding="utf-8")
    partial.replace(path)


def forget_address(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / ADDRESS_FILE).unlink()


def recorded_address(data_dir: Path) -> RecordedAddress | None:
    """The record of ``data_dir``; None when there is none or it cannot be read."""
    path = data_dir / ADDRESS_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return RecordedAddress(address=str(record["address"]), pid=int(record["pid"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _log.warning("%s cannot be read: %s", path, exc)
        return None
