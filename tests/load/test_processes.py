"""load/processes: a session's processes, named as Ray names them, with their CPU seconds."""

from __future__ import annotations

import os
import subprocess
import sys

from load.processes import process_name, session_cpu


def test_names_ray_workers_by_their_title():
    assert process_name([b"ray::FrontEndHost", b""]) == "ray::FrontEndHost"
    assert process_name([b"ray::ServeReplica:api:api", b""]) == "ray::ServeReplica:api:api"
    # A title set with setproctitle may arrive as one string with spaces.
    assert process_name([b"ray::IDLE some args"]) == "ray::IDLE"


def test_names_python_scripts_and_binaries():
    agent = [b"/venv/bin/python3", b"/venv/lib/site-packages/ray/dashboard/agent.py", b"--x"]
    assert process_name(agent) == "dashboard/agent.py"
    gcs = [b"/venv/lib/site-packages/ray/core/src/ray/gcs/gcs_server", b"--port=1"]
    assert process_name(gcs) == "gcs_server"
    assert process_name([b"/venv/bin/python3", b"/venv/bin/mairust", b"up"]) == "mairust"
    assert process_name([]) == "?"


def test_reads_the_cpu_of_every_process_of_a_session():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; sum(range(3_000_000)); time.sleep(30)"],
        start_new_session=True,
    )
    try:
        for _ in range(100):
            found = session_cpu(child.pid)
            if found and found[child.pid][1] > 0:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert list(found) == [child.pid]
        name, seconds = found[child.pid]
        assert name.startswith("python") and seconds > 0
        assert os.getpid() not in session_cpu(child.pid)
    finally:
        child.kill()
        child.wait()
