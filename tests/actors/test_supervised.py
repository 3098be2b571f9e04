"""A supervised loop that gives up takes its actor down, and Ray starts the actor again."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
import os

import ray

from actors.supervised import EXIT_CODE, start_supervised
from mairust.supervision import Backoff, Supervisor


class FirstIncarnationBreaks:
    """Its loop fails for good in the first process only (a marker file tells them apart)."""

    async def __init__(self, marker: str) -> None:  # type: ignore[misc]
        try:  # created here by the first process only
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            self.first = True
        except FileExistsError:
            self.first = False
        self.supervisor = Supervisor(
            "flaky loop", self._loop, Backoff(first_seconds=0.01, give_up_after=2)
        )
        self.task = start_supervised(self.supervisor)

    async def _loop(self) -> None:
        if self.first:
            raise RuntimeError("broken in this process")
        await asyncio.Event().wait()

    async def incarnation(self) -> tuple[int, bool, int]:
        return os.getpid(), self.first, self.supervisor.restarts


FlakyActor = ray.remote(num_cpus=0, max_restarts=1, max_task_retries=0)(FirstIncarnationBreaks)


def test_a_loop_that_gave_up_exits_its_actor_and_ray_restarts_it(spawn, tmp_path, wait_until):
    actor = spawn(FlakyActor, str(tmp_path / "started-once"))

    def restarted() -> tuple[int, bool, int] | None:
        try:
            pid, first, restarts = ray.get(actor.incarnation.remote(), timeout=30)
        except ray.exceptions.RayActorError:
            return None  # between the exit and the restart
        return (pid, first, restarts) if not first else None

    pid, first, restarts = wait_until(restarted, timeout=60, what="the restarted actor")
    assert (first, restarts) == (False, 0)
    assert pid != os.getpid()
    assert EXIT_CODE != 0  # what makes Ray count the exit as a crash and restart the actor
