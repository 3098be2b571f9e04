"""Where the pool scaler puts a new pool member, and how it asks Ray for that node.

A new member goes to the live node that holds the fewest members of its pool (ties: the
node with the fewest members of all pools, then the node id), never to a node that is
being drained. The ask is hard node affinity: Ray 2.60 ignored soft node affinity in most
starts (see docs/scale-out/multinode.md), which would also put new members on a node being
drained. A pinned member restarts on its node while the node lives; one lost with its node
is replaced by the pool scaler. Pure but for :func:`placement_options`, so it is tested
without a cluster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


def live_node_ids(nodes: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ids of the live nodes among ``ray.nodes()`` records, sorted."""
    return sorted(str(node["NodeID"]) for node in nodes if node.get("Alive"))


def node_for_new_member(
    live: Iterable[str],
    pool_members: Counter[str],
    all_members: Counter[str],
    excluded: frozenset[str] = frozenset(),
) -> str | None:
    """The node for one more member of a pool whose members sit as ``pool_members`` counts
    (node id -> members); None when no live node is left outside ``excluded``."""
    candidates = [node for node in live if node not in excluded]
    if not candidates:
        return None
    return min(candidates, key=lambda node: (pool_members[node], all_members[node], node))


def placement_options(node_id: str | None) -> dict[str, Any]:
    """Ray options that pin an actor to ``node_id``; none for None."""
    if node_id is None:
        return {}
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False)}
