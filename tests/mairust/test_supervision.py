"""Supervisor: restarts with capped exponential backoff, reset after a healthy run, gives up,
stops, and reports what it saw."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mairust.supervision import Backoff, LoopGaveUp, Supervisor


class Script:
    """A loop factory: each run pops the next step (an exception to raise, a number of
    fake seconds to run, or "return"); the fake clock moves only when a run says so."""

    def __init__(self, *steps: object) -> None:
        self.steps = list(steps)
        self.now = 0.0
        self.runs = 0

    def clock(self) -> float:
        return self.now

    async def __call__(self) -> None:
        self.runs += 1
        step = self.steps.pop(0)
        while isinstance(step, (int, float)):
            self.now += step
            step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert step == "return"


def test_backoff_doubles_and_is_capped() -> None:
    backoff = Backoff(first_seconds=0.5, max_seconds=30.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(10_000) == 30.0


async def test_a_failing_loop_is_restarted_and_logged_with_its_traceback(caplog) -> None:
    script = Script(RuntimeError("one"), KeyError("two"), "return")
    supervisor = Supervisor("test loop", script, Backoff(first_seconds=0.01), clock=script.clock)
    with caplog.at_level(logging.ERROR, logger="mairust.supervision"):
        await supervisor.run()
    assert script.runs == 3
    assert supervisor.restarts == 2
    assert supervisor.last_error == "KeyError: 'two'"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [str(r.exc_info[1]) for r in errors if r.exc_info] == ["one", "'two'"]
    assert all("test loop failed" in r.getMessage() for r in errors)


async def test_it_gives_up_after_failures_in_a_row() -> None:
    script = Script(*(ValueError(f"bad {n}") for n in range(5)))
    supervisor = Supervisor(
        "test loop", script, Backoff(first_seconds=0.01, give_up_after=3), clock=script.clock
    )
    with pytest.raises(LoopGaveUp, match="test loop: ValueError: bad 2") as raised:
        await supervisor.run()
    assert isinstance(raised.value, LoopGaveUp)
    state = supervisor.state
    assert (script.runs, state.restarts, state.failures_in_a_row, state.gave_up) == (3, 2, 3, True)
    assert not state.running


async def test_a_healthy_run_resets_the_count_toward_giving_up() -> None:
    # Fail, fail, run 60 s then fail (counts as the first again), fail, then stay up.
    script = Script(OSError("a"), OSError("b"), 60.0, OSError("c"), OSError("d"), "return")
    supervisor = Supervisor(
        "test loop",
        script,
        Backoff(first_seconds=0.01, healthy_after=60.0, give_up_after=3),
        clock=script.clock,
    )
    await supervisor.run()  # without the reset, "c" would be the third in a row
    assert (script.runs, supervisor.restarts) == (5, 4)


async def test_stop_ends_a_backoff_wait_at_once() -> None:
    failed = asyncio.Event()
    runs = 0

    async def down() -> None:
        nonlocal runs
        runs += 1
        failed.set()
        raise RuntimeError("down")

    supervisor = Supervisor("test loop", down, Backoff(first_seconds=60.0))
    task = asyncio.create_task(supervisor.run())
    await failed.wait()
    await asyncio.sleep(0)  # the supervisor logs and enters its backoff wait
    supervisor.stop()
    await asyncio.wait_for(task, 5)  # not the 60 s backoff
    assert (runs, supervisor.restarts, supervisor.last_error) == (1, 0, "RuntimeError: down")


async def test_cancellation_passes_through() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    supervisor = Supervisor("test loop", forever)
    task = asyncio.create_task(supervisor.run())
    await started.wait()
    assert supervisor.state.running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert supervisor.restarts == 0 and supervisor.last_error is None


async def test_progress_is_reported_as_an_age() -> None:
    script = Script("return")
    supervisor = Supervisor("test loop", script, clock=script.clock)
    assert supervisor.state.seconds_since_progress is None
    supervisor.progress()
    script.now += 12.5
    assert supervisor.state.seconds_since_progress == 12.5
