"""cluster/pool_placement: a new pool member goes to the live node with the fewest of its
pool, then of all pools, never to a drained node; the member is pinned there."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
from collections import Counter

from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cluster.pool_placement import (
    live_node_ids,
    node_for_new_member,
    placement_options,
)


def test_live_nodes_only_sorted() -> None:
    nodes = [
        {"NodeID": "bb", "Alive": True},
        {"NodeID": "aa", "Alive": True},
        {"NodeID": "cc", "Alive": False},
    ]
    assert live_node_ids(nodes) == ["aa", "bb"]


def test_the_node_with_fewest_of_the_pool_then_of_all_pools() -> None:
    live = ["a", "b", "c"]
    pool = Counter({"a": 1, "b": 0, "c": 0})
    every = Counter({"a": 3, "b": 2, "c": 1})
    assert node_for_new_member(live, pool, every) == "c"
    assert node_for_new_member(live, Counter({"a": 0, "b": 1, "c": 1}), every) == "a"
    # All equal: the smallest node id, so placement is stable.
    assert node_for_new_member(live, Counter(), Counter()) == "a"


def test_a_drained_node_is_never_chosen_and_none_left_is_none() -> None:
    live = ["a", "b"]
    assert node_for_new_member(live, Counter({"b": 5}), Counter(), frozenset({"a"})) == "b"
    assert node_for_new_member(live, Counter(), Counter(), frozenset({"a", "b"})) is None


def test_options_pin_the_member_to_the_node() -> None:
    assert placement_options(None) == {}
    node = "ab" * 28  # a node id's form: 28 bytes in hex
    strategy = placement_options(node)["scheduling_strategy"]
    assert isinstance(strategy, NodeAffinitySchedulingStrategy)
    assert (strategy.node_id, strategy.soft) == (node, False)
