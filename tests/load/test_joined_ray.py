"""load/joined_ray: finding the GCS address of one ``mairust up`` among the Ray clusters on
the machine (several may run at once), from the GCS server of its process session."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from load.joined_ray import gcs_address_of_session


def _fake_gcs_server(session_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """A process in a session of its own that looks like Ray's GCS server: argv[0] ending in
    ``gcs_server``, ``--gcs_server_port=0`` (it picks its port) and a log directory inside
    the session directory, where the port it picked is written."""
    (session_dir / "logs").mkdir(parents=True)
    (session_dir / "gcs_server_port_0123abcd").write_text(f"{port}\n")
    shell = 'exec -a "$0" "$1" -c "import time; time.sleep(30)" "$2" --gcs_server_port=0'
    name = str(session_dir / "gcs_server")
    return subprocess.Popen(
        ["/bin/bash", "-c", shell, name, sys.executable, f"--log_dir={session_dir}/logs"],
        start_new_session=True,
    )


def _wait_until_renamed(process: subprocess.Popen[bytes]) -> None:
    """Until bash has exec'd into the renamed Python (a moment after Popen returns)."""
    for _ in range(500):
        if (
            Path(f"/proc/{process.pid}/cmdline")
            .read_bytes()
            .split(b"\0")[0]
            .endswith(b"/gcs_server")
        ):
            return
        time.sleep(0.01)
    raise AssertionError("the fake GCS server did not start")


def test_each_session_gets_the_port_its_own_gcs_server_wrote(tmp_path):
    first = _fake_gcs_server(tmp_path / "session_a", 41234)
    second = _fake_gcs_server(tmp_path / "session_b", 42345)
    try:
        _wait_until_renamed(first)
        _wait_until_renamed(second)
        assert gcs_address_of_session(first.pid) == "127.0.0.1:41234"
        assert gcs_address_of_session(second.pid) == "127.0.0.1:42345"
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_a_session_without_a_gcs_server_has_no_address():
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        assert gcs_address_of_session(process.pid) is None
    finally:
        process.kill()
        process.wait()
