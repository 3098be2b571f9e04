"""ProcessTree finds what a kill of the driver's process group would miss, and only that."""

from __future__ import annotations

import subprocess
import time

from tests.support.mairust_server import process_title
from tests.support.process_tree import ProcessTree

# A "driver" in a session of its own with a "raylet" child, and a "worker" that leaves both
# the session and the tree (setsid, its parent gone) but carries RAY_RAYLET_PID, as Ray's do.
DRIVER = """
(exec -a /x/ray/core/src/ray/raylet/raylet sleep 120) & raylet=$!
RAY_RAYLET_PID=$raylet setsid bash -c '(exec -a ray::Worker sleep 120) &' &
sleep 120
"""


def test_kill9_reaches_detached_workers_and_spares_other_drivers() -> None:
    driver = subprocess.Popen(["bash", "-c", DRIVER], start_new_session=True)
    other = subprocess.Popen(["bash", "-c", "RAY_RAYLET_PID=1 exec setsid sleep 120"])
    try:
        tree = ProcessTree(driver.pid)
        deadline = time.monotonic() + 10
        while len(tree.pids()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        found = tree.pids()
        titles = {process_title(pid) for pid in found}
        assert "ray::Worker" in titles and len(found) == 3, titles
        assert other.pid not in found
        assert tree.kill9() == 3
        driver.wait(10)
        assert tree.wait_gone(10) == set()
        assert other.poll() is None  # another driver's worker is untouched
    finally:
        other.kill()
        driver.kill()
