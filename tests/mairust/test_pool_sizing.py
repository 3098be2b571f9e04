"""PoolSizer: inside the bounds always, no change within the cooldown, grows under a
backlog, shrinks one member at a time when nothing waits; the rules from the config."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mairust.config import Settings
from mairust.pool_sizing import (
    AUTH,
    DELIVERY,
    PIPELINE,
    PoolBounds,
    PoolLoad,
    PoolSizer,
    SizingRule,
    needed_members,
    sizing_rules,
)


def rule(minimum: int = 1, maximum: int = 4, per_member: int = 10, cooldown: float = 30.0):
    return SizingRule(PoolBounds(minimum, maximum), per_member, cooldown, initial=minimum)


bounds_strategy = st.integers(0, 20).flatmap(
    lambda low: st.tuples(st.just(low), st.integers(max(low, 1), 30))
)
loads = st.builds(PoolLoad, waiting=st.integers(0, 5000), in_flight=st.integers(0, 5000))


@given(
    bounds=bounds_strategy,
    per_member=st.integers(1, 500),
    steps=st.lists(st.tuples(loads, st.floats(0, 100)), min_size=1, max_size=30),
    start=st.integers(0, 40),
)
def test_the_size_is_never_outside_the_bounds(bounds, per_member, steps, start):
    sizer = PoolSizer(rule(bounds[0], bounds[1], per_member, cooldown=5.0))
    size, now = start, 0.0
    for load, pause in steps:
        now += pause
        size = sizer.decide(load, size, now)
        assert bounds[0] <= size <= bounds[1]


@given(
    steps=st.lists(st.tuples(loads, st.floats(0, 29.9)), min_size=2, max_size=20),
    cooldown=st.floats(30, 120),
)
def test_no_change_within_the_cooldown_after_a_change(steps, cooldown):
    sizer = PoolSizer(rule(1, 50, per_member=10, cooldown=cooldown))
    size = sizer.decide(PoolLoad(waiting=200, in_flight=0), 1, now=0.0)  # a change: 1 -> 20
    assert size == 20
    now = 0.0
    for load, pause in steps:
        now += pause
        if now >= cooldown:
            break
        assert sizer.decide(load, size, now) == size


@given(waiting=st.integers(0, 10_000), in_flight=st.integers(0, 10_000), current=st.integers(1, 8))
def test_grows_to_what_the_backlog_needs(waiting, in_flight, current):
    sizer = PoolSizer(rule(1, 8, per_member=25, cooldown=0))
    load = PoolLoad(waiting, in_flight)
    size = sizer.decide(load, current, now=100.0)
    needed = min(8, max(1, needed_members(load, 25)))
    if needed > current:
        assert size == needed
    else:
        assert size <= current


def test_shrinks_one_member_a_look_when_idle_down_to_the_minimum():
    sizer = PoolSizer(rule(2, 6, per_member=10, cooldown=10.0))
    idle = PoolLoad(waiting=0, in_flight=0)
    size, now, seen = 6, 0.0, []
    while size > 2:
        now += 10.0
        size = sizer.decide(idle, size, now)
        seen.append(size)
    assert seen == [5, 4, 3, 2]
    assert sizer.decide(idle, 2, now + 100) == 2


def test_does_not_shrink_while_rows_wait():
    sizer = PoolSizer(rule(1, 6, per_member=100, cooldown=0))
    # Few rows, but they wait: members are busy, not idle.
    assert sizer.decide(PoolLoad(waiting=3, in_flight=0), 4, now=50.0) == 4
    assert sizer.decide(PoolLoad(waiting=0, in_flight=3), 4, now=60.0) == 3


def test_a_size_outside_new_bounds_is_brought_inside_even_in_the_cooldown():
    sizer = PoolSizer(rule(2, 3, per_member=10, cooldown=1000))
    assert sizer.decide(PoolLoad(0, 0), 1, now=0.0) == 2
    assert sizer.decide(PoolLoad(0, 0), 9, now=1.0) == 3


def test_bounds_and_rule_refuse_nonsense():
    with pytest.raises(ValueError, match="not 0 <= min <= max"):
        PoolBounds(3, 2)
    with pytest.raises(ValueError, match="per_member"):
        SizingRule(PoolBounds(1, 2), 0, 1.0, initial=1)


def test_rules_from_the_config_keep_todays_fixed_pools(tmp_path):
    rules = sizing_rules(Settings(data_dir=tmp_path))
    assert {name: (r.bounds.minimum, r.bounds.maximum, r.initial) for name, r in rules.items()} == {
        PIPELINE: (2, 2, 2),
        AUTH: (2, 2, 2),
        DELIVERY: (1, 1, 1),
    }
    assert all(r.bounds.fixed for r in rules.values())


def test_rules_from_the_config_with_bounds(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        cluster={
            "pipeline_workers": 2,
            "pipeline_workers_max": 6,
            "delivery_workers_min": 0,
            "delivery_workers_max": 3,
            "pipeline_rows_per_worker": 7,
            "pool_cooldown_seconds": 4.0,
        },
        auth={"enabled": False},
        outbound={"workers": 0},
    )
    rules = sizing_rules(settings)
    assert set(rules) == {PIPELINE, DELIVERY}  # checks off: no checker pool
    assert (rules[PIPELINE].bounds, rules[PIPELINE].initial) == (PoolBounds(2, 6), 2)
    assert (rules[PIPELINE].per_member, rules[PIPELINE].cooldown_seconds) == (7, 4.0)
    assert (rules[DELIVERY].bounds, rules[DELIVERY].initial) == (PoolBounds(0, 3), 0)
    # A starting size below a minimum starts at the minimum.
    raised = Settings(data_dir=tmp_path, cluster={"pipeline_workers_min": 3})
    assert sizing_rules(raised)[PIPELINE].initial == 3


def test_min_above_max_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="pipeline_workers_min"):
        Settings(data_dir=tmp_path, cluster={"pipeline_workers_min": 4, "pipeline_workers_max": 2})
