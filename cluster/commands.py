"""The ``mairust cluster`` command group: running MaiRust on a Ray cluster of many nodes.

Each command lives in a module of its own (start, status, drain); this module only gathers
them under one ``typer`` group, which ``cluster.cli`` adds to the ``mairust`` command.
"""

from __future__ import annotations

import typer

from cluster import status_command
from cluster.drain_command import cluster_drain
from cluster.up_command import cluster_up

cluster_app = typer.Typer(
    name="cluster",
    help=(
        "Run MaiRust on a Ray cluster: start its actors and Serve apps on an existing cluster, "
        "show nodes, actors and queues, drain a node before it leaves."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
cluster_app.command("status")(status_command.status)
cluster_app.command("up")(cluster_up)
cluster_app.command("drain")(cluster_drain)
