"""``mairust cluster drain NODE``: take one node out of service before it leaves the
cluster: first its pool members move, then its SMTP front-end stops accepting.

The pools first (``cluster.pool_drain``): the pool scaler of the running `mairust cluster
up` replaces each pipeline worker, auth checker and delivery worker on the node by a new
one on another node (the new one first), then retires the old one gracefully (out of its
consumers' rotation, its work settled, then killed); the command prints what moved and
checks in Ray's actor table that no pool member is left there. Then the node's front-end
(each of its group, with ``smtp.frontends_per_node`` > 1) closes its listeners (a new
connection to it is refused, so a load balancer or a sending MTA moves on to another node),
lets transactions in progress finish for up to ``--grace`` seconds, says 421 to idle
sessions, and commits what its spool holds.
When the command returns, every message that node acknowledged is in the shared stores: the
node is idle and can leave (``ray stop`` on it). The dispatcher, indexer and webhook
actors are not pool members and are not moved: if one runs there, Ray restarts it elsewhere
when the node leaves, and what it held comes back through lease expiry (invariant 2).
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

import ray
import typer
from rich.console import Console

from cluster.embedded import frontend_peer_name
from cluster.placement import NODE_ID_CHARS, find_node
from cluster.pool_drain import PoolMoveFailed, move_pools_off, pool_members_on
from cluster.ray_runtime import start_ray
from cluster.up_command import AddressOption
from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from

_log = logging.getLogger(__name__)

# Beyond the grace period: the spool's last group commit and the answer's way back.
DRAIN_ANSWER_SECONDS = 60.0
# How long Ray's actor table may take to show a killed member dead.
MEMBERS_GONE_SECONDS = 15.0

console = Console(soft_wrap=True)


def cluster_drain(
    node: Annotated[
        str,
        typer.Argument(
            help="The node: its Ray node id (or a prefix of 6+ characters), its front-end's "
            "name, or its address when no other SMTP node has it."
        ),
    ],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    address: AddressOption = None,
    grace: Annotated[
        float,
        typer.Option("--grace", help="Seconds transactions in progress get to finish.", min=0),
    ] = 30.0,
    move_timeout: Annotated[
        float,
        typer.Option(
            "--move-timeout",
            help="Seconds the pool members (pipeline workers, auth checkers, delivery "
            "workers) on NODE get to be replaced elsewhere and to finish their work.",
            min=1,
        ),
    ] = 300.0,
) -> None:
    """Move NODE's pool members (pipeline workers, auth checkers, delivery workers) to
    other nodes, then stop its SMTP front-end from accepting, let its transactions finish
    and report when the node is idle and can leave the cluster."""
    with reported_errors():
        settings = settings_from(data_dir, config, cluster={"ray_address": address})
    if not settings.cluster.ray_address:
        console.print("[red]error:[/] give the cluster: --address or \\[cluster] ray_address")
        raise typer.Exit(2)
    logging.basicConfig(level=settings.log_level.upper())
    start_ray(settings)
    try:
        try:
            target = find_node(ray.nodes(), node)  # type: ignore[no-untyped-call]
        except (LookupError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(1) from exc
        try:
            frontend: Any = ray.get_actor(target.frontend_name)
            group = [frontend, *_peers_of(target.frontend_name, settings.smtp.frontends_per_node)]
        except ValueError as exc:  # Ray: no actor of that name
            console.print(
                f"[red]error:[/] node {target.short_id} has no MaiRust front-end "
                "(is `mairust cluster up` running?)"
            )
            raise typer.Exit(1) from exc
        moved = _move_pools(target.node_id, target.short_id, move_timeout)
        console.print(
            f"Draining node {target.short_id} ({target.address}): listeners closing, "
            f"transactions in progress get up to {grace:g} s ..."
        )
        began = time.monotonic()
        try:
            results: list[dict[str, int]] = ray.get(
                [member.drain.remote(grace) for member in group],
                timeout=grace + DRAIN_ANSWER_SECONDS,
            )
        except (ray.exceptions.RayError, TimeoutError) as exc:
            console.print(f"[red]error:[/] the front-end did not finish draining: {exc}")
            raise typer.Exit(1) from exc
        _check_no_member_left(target.node_id, target.short_id)
        console.print(
            f"Node {target.short_id} is idle after {time.monotonic() - began:.1f} s: no SMTP "
            f"listener, nothing left uncommitted "
            f"({sum(r['messages_committed'] for r in results)} messages "
            f"committed there since it started), no pool member ({moved} moved off). "
            "It can leave the cluster (`ray stop` on it)."
        )
    finally:
        ray.shutdown()


def _peers_of(leader: str, frontends_per_node: int) -> list[Any]:
    """The other front-ends of ``leader``'s group that run (`smtp.frontends_per_node`)."""
    peers = []
    for number in range(2, frontends_per_node + 1):
        try:
            peers.append(ray.get_actor(frontend_peer_name(leader, number)))
        except ValueError:  # that one never started, or is gone: nothing to drain there
            _log.warning("front-end %s not found", frontend_peer_name(leader, number))
    return peers


def _move_pools(node_id: str, short_id: str, timeout: float) -> int:
    """The node's pool members replaced elsewhere, each move printed; how many moved."""
    console.print(f"Moving the pool members off node {short_id} ...")
    try:
        moves = move_pools_off(node_id, timeout)
    except PoolMoveFailed as exc:
        console.print(f"[red]error:[/] {exc}; the node still serves SMTP")
        raise typer.Exit(1) from exc
    for move in moves:
        console.print(
            f"Moved       {move.pool}: {move.left} -> {move.joined} on node "
            f"{move.node[:NODE_ID_CHARS] or '(unknown)'}"
        )
    if not moves:
        console.print(f"Moved       nothing: no pool member ran on node {short_id}")
    return len(moves)


def _check_no_member_left(node_id: str, short_id: str) -> None:
    """Ray's own actor table must show no pool member on the node (a killed one may take a
    moment to show dead)."""
    deadline = time.monotonic() + MEMBERS_GONE_SECONDS
    left = pool_members_on(node_id)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = pool_members_on(node_id)
    if left:
        console.print(
            f"[red]error:[/] pool members still on node {short_id}: {', '.join(left)}; "
            "run the drain again"
        )
        raise typer.Exit(1)
