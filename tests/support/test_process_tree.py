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
        # The shells in between come and go (the driver's last command replaces its
        # shell): wait for the worker's title, not for a count.
        found = tree.pids()
        titles = {process_title(pid) for pid in found}
        while not ("ray::Worker" in titles and len(found) == 3) and time.monotonic() < deadline:
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


def test_kill9_lets_the_processes_run_on_until_the_callback_picks_the_instant() -> None:
    driver = subprocess.Popen(["bash", "-c", "sleep 120"], start_new_session=True)
    try:
        tree = ProcessTree(driver.pid)
        states: list[str] = []

        def third_time() -> bool:
            states.append(_state(driver.pid))
            return len(states) == 3

        assert tree.kill9(third_time, tries=5, between=0.01) >= 1
        assert states == ["T", "T", "T"]  # stopped at each look, so each look saw one instant
        assert driver.wait(10) == -9
    finally:
        driver.kill()


def test_kill9_kills_on_the_last_try_even_when_no_instant_was_picked() -> None:
    driver = subprocess.Popen(["bash", "-c", "sleep 120"], start_new_session=True)
    try:
        looks: list[bool] = []

        def never() -> bool:
            looks.append(True)
            return False

        assert ProcessTree(driver.pid).kill9(never, tries=2, between=0.01) >= 1
        assert len(looks) == 2
        assert driver.wait(10) == -9
    finally:
        driver.kill()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]
