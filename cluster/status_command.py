"""``mairust cluster status``: nodes, MaiRust's actors, the worker pools, Serve and the queue,
as tables or JSON.

The command joins the Ray cluster as a short-lived driver (``cluster.ray_state``), reads,
and leaves; it starts nothing there. When nothing runs it says so in one line and exits 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cluster.ray_state import RayActor, RayNode
from cluster.status import ClusterReport, PoolReport, QueueReport, collect
from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from

# Resources every node has and an operator rarely needs in a table (Ray's per-node and
# head-node markers, accelerator-type markers).
_HIDDEN_RESOURCE_PREFIXES = ("node:", "accelerator_type:")
_BYTES_RESOURCES = frozenset({"memory", "object_store_memory"})
GIB = 1024**3
# Node ids are 56 hex digits; this many tell the nodes of a cluster apart (--json has all).
NODE_ID_SHOWN = 8


def status(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object (for scripts) instead of tables.")
    ] = False,
) -> None:
    """Show the cluster's nodes, MaiRust's actors (state, restarts), the worker pools
    (size, bounds, members per node), Serve's apps and replicas, and the queue (rows per
    state, oldest lease)."""
    with reported_errors():
        report = collect(settings_from(data_dir, config))
    if as_json:
        # Plain output: rich would wrap and colour what a script parses.
        typer.echo(json_text(report))
    else:
        Console(soft_wrap=True).print(render(report))


def json_text(report: ClusterReport) -> str:
    return json.dumps(report.as_json(), indent=2, sort_keys=True)


def render(report: ClusterReport) -> Group:
    return Group(
        Text(f"Ray cluster at {report.ray_address}", style="bold"),
        nodes_table(report.nodes),
        actors_table("MaiRust actors", report.actors),
        pools_table(report.pools),
        serve_table(report),
        actors_table("Serve actors", report.serve_actors),
        Text(queue_line(report.queue)),
    )


def nodes_table(nodes: list[RayNode]) -> Table:
    table = Table(title="Nodes", title_justify="left")
    table.add_column("node", no_wrap=True)
    table.add_column("address", no_wrap=True)
    table.add_column("alive")
    table.add_column("resources (free/total)")
    for node in nodes:
        table.add_row(
            node.node_id[:NODE_ID_SHOWN],
            node.address,
            "yes" if node.alive else "[red]no[/]",
            resources_text(node),
        )
    return table


def resources_text(node: RayNode) -> str:
    """``CPU 1.5/2, smtp 1/1, memory 3.2/16.0 GiB``: free over total, the node markers left out."""
    parts = []
    for name, total in sorted(node.resources.items(), key=lambda item: _resource_order(item[0])):
        if name.startswith(_HIDDEN_RESOURCE_PREFIXES):
            continue
        free = node.available.get(name, 0.0)
        if name in _BYTES_RESOURCES:
            parts.append(f"{name} {free / GIB:.1f}/{total / GIB:.1f} GiB")
        else:
            parts.append(f"{name} {_number(free)}/{_number(total)}")
    return ", ".join(parts)


def _resource_order(name: str) -> tuple[int, str]:
    # CPU, GPU and MaiRust's `smtp` first: what placement decides on.
    first = {"CPU": 0, "GPU": 1, "smtp": 2}
    return (first.get(name, 3), name)


def _number(value: float) -> str:
    return f"{value:g}"


def actors_table(title: str, actors: list[RayActor]) -> Table:
    table = Table(title=title, title_justify="left")
    # Every column but the name keeps its words whole; a long name (Serve's proxies carry
    # their node id) folds.
    table.add_column("name", overflow="fold", min_width=19)
    table.add_column("class", overflow="fold")
    for column in ("node", "state", "restarts", "pid"):
        table.add_column(column, no_wrap=True)
    for actor in actors:
        state = actor.state if actor.state == "ALIVE" else f"[red]{actor.state}[/]"
        restarts = str(actor.restarts) if actor.restarts == 0 else f"[yellow]{actor.restarts}[/]"
        table.add_row(
            actor.name or "-",
            actor.class_name,
            actor.node_id[:NODE_ID_SHOWN],
            state,
            restarts,
            str(actor.pid or "-"),
        )
    return table


def pools_table(pools: list[PoolReport]) -> Table:
    table = Table(title="Pools", title_justify="left")
    for column in ("pool", "size", "bounds", "load (waiting/in flight)", "members per node"):
        table.add_column(column, no_wrap=True)
    for pool in pools:
        load = "-" if pool.load is None else f"{pool.load['waiting']}/{pool.load['in_flight']}"
        per_node = ", ".join(
            f"{(node or 'placing')[:NODE_ID_SHOWN]} {count}"
            for node, count in sorted(pool.per_node.items())
        )
        table.add_row(
            pool.name, str(pool.size), f"{pool.minimum}-{pool.maximum}", load, per_node or "-"
        )
    return table


def serve_table(report: ClusterReport) -> Table:
    table = Table(title="Serve applications", title_justify="left")
    for column in ("app", "status", "deployment", "deployment status", "replicas"):
        table.add_column(column, no_wrap=True)
    for deployment in report.serve:
        replicas = ", ".join(
            f"{state} {count}" for state, count in sorted(deployment.replicas.items())
        )
        table.add_row(
            deployment.app,
            deployment.app_status,
            deployment.deployment,
            deployment.status,
            replicas or "-",
        )
    return table


def queue_line(queue: QueueReport) -> str:
    counts = "  ".join(f"{state}: {count}" for state, count in queue.counts.items())
    if queue.oldest_lease_seconds is None:
        leases = "no leases held"
    else:
        leases = (
            f"oldest lease {queue.oldest_lease_seconds:.0f} s old, "
            f"{queue.expired_leases} of {queue.leased} expired"
        )
    return f"Queue  {counts}  ({leases})"
