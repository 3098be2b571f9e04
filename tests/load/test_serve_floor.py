"""load/serve_floor: the arithmetic that turns a bare Serve call's CPU into the most a plugin
platform on Serve can keep of its no-plugin rate (measuring is run by test_bench_hooks)."""

from __future__ import annotations

import pytest

from load.serve_floor import ceiling, messages_per_call_for


def test_no_calls_keep_the_whole_rate() -> None:
    assert ceiling(5.0, 200.0, 2, 0) == 1.0


def test_a_call_costing_what_a_message_costs_halves_the_rate() -> None:
    # 2 cores busy at 200 msg/s: 10 ms of CPU a message; a 10 ms call a message doubles it.
    assert ceiling(10.0, 200.0, 2, 1) == pytest.approx(0.5)


def test_more_calls_a_message_keep_less() -> None:
    assert ceiling(5.0, 200.0, 2, 3) < ceiling(5.0, 200.0, 2, 1) < 1.0


@pytest.mark.parametrize(("target", "plugins"), [(0.9, 1), (0.8, 3)])
def test_the_batch_size_needed_reaches_the_target_exactly(target: float, plugins: int) -> None:
    carried = messages_per_call_for(target, 5.5, 232.0, 2, plugins)
    assert carried > 1.0  # at this cost one message a call falls short
    assert ceiling(5.5, 232.0, 2, plugins / carried) == pytest.approx(target)
