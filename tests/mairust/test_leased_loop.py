"""LeasedLoop: a store outage, at a (re)start as in its rounds, is a wait, not a failure
its supervisor counts (a restart of PostgreSQL must not use up a loop's give-up budget)."""

from __future__ import annotations

import asyncio
import logging

from mairust.errors import StorageUnavailable
from mairust.leased_loop import LeasedLoop
from mairust.supervision import Backoff


class OutageLoop(LeasedLoop):
    """A leased loop over a store that is down for its first ``down_calls`` calls (hand-back
    and rounds alike), then answers with nothing to lease."""

    loop_name = "test loop"
    rows = "test rows"

    def __init__(self, down_calls: int) -> None:
        super().__init__("test@node")
        self.down_calls = down_calls
        self.calls: list[str] = []

    @property
    def batch_size(self) -> int:
        return 10

    @property
    def poll_interval(self) -> float:
        return 0.01

    def _store_call(self, what: str) -> None:
        self.calls.append(what)
        if len(self.calls) <= self.down_calls:
            raise StorageUnavailable("metadata store unavailable: connection refused")

    def release_leases(self, owner_prefix: str, keep_owner: str) -> int:
        assert owner_prefix == "test@node/" and keep_owner == self.owner
        self._store_call("release")
        return 0

    async def leased_round(self) -> int:
        self._store_call("round")
        if self.calls.count("round") >= 5:
            self.stop()
        return 0


async def test_a_store_down_at_start_is_waited_out_not_a_failure(caplog) -> None:
    loop = OutageLoop(down_calls=3)  # the hand-back and two rounds meet the outage
    supervisor = loop.supervisor(Backoff(first_seconds=0.01, give_up_after=1))
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(supervisor.run(), timeout=10)
    assert loop.calls == ["release"] + ["round"] * 5  # one run, never restarted
    state = supervisor.state
    assert (state.restarts, state.failures_in_a_row, state.gave_up) == (0, 0, False)
    assert state.seconds_since_progress is not None  # the rounds after the outage counted
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "their leases expire" in warnings[0] and len(warnings) == 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_each_run_is_a_new_incarnation_that_first_hands_back() -> None:
    loop = OutageLoop(down_calls=0)
    first = loop.owner
    loop.stop()
    await loop.run()
    assert loop.calls == ["release"] and loop.owner != first  # a new incarnation
