"""``mairust cluster up``: start MaiRust on a Ray cluster that runs already.

The command joins the cluster (``--address`` or ``[cluster] ray_address``), starts the
actors and the Serve apps (``cluster.deployment``), prints where every front-end listens and
then stays in the foreground, like `mairust up`: the actors belong to this driver, so
Ctrl-C (or SIGTERM) stops them in order and nothing is left behind on the cluster, and no
second command is needed to take a deployment down. Meanwhile it looks at the cluster's
nodes every few seconds and starts a front-end on each SMTP node that joined.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import typer
from rich.console import Console

from cluster.deployment import ClusterDeployment, Listeners
from cluster.placement import NODE_ID_CHARS, SmtpNode
from cluster.stop_signal import wait_for_stop_signal
from mairust import __version__
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    DomainOption,
    LogLevelOption,
    reported_errors,
    settings_from,
)
from mairust.secrets.master_key import load_keyring

_log = logging.getLogger(__name__)

# How often the running command looks for SMTP nodes that joined the cluster.
NODE_WATCH_SECONDS = 5.0
READY_LINE = "MaiRust is up on the Ray cluster"

console = Console(soft_wrap=True)

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="The Ray cluster to join (host:port of its head) [default: cluster.ray_address].",
        show_default=False,
    ),
]


def cluster_up(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    address: AddressOption = None,
    domain: DomainOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Start MaiRust's actors and Serve apps on an existing Ray cluster (`ray start --head`,
    `ray start --address=...`): one SMTP front-end on each node started with
    `--resources '{"smtp": 1}'`, the pipeline workers dealt out over the nodes in turn.

    The stores must be ones every node reaches (PostgreSQL, S3, OpenSearch; the embedded
    ones only when every node runs on this machine). Prints where each front-end listens,
    then runs until Ctrl-C (or SIGTERM), which stops everything it started.
    """
    with reported_errors():
        settings = settings_from(
            data_dir, config, cluster={"ray_address": address}, log_level=log_level
        )
        if not settings.cluster.ray_address:
            console.print("[red]error:[/] give the cluster: --address or \\[cluster] ray_address")
            raise typer.Exit(2)
        load_keyring(settings)
    if domain:
        settings.domains = sorted({*settings.domains, *domain})
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    deployment = ClusterDeployment(settings)
    console.print(
        f"MaiRust {__version__} starting on the Ray cluster at {settings.cluster.ray_address} ..."
    )
    try:
        endpoints = deployment.start()
    except Exception as exc:
        _log.exception("start-up failed")
        console.print(f"[red]MaiRust could not start:[/] {exc}")
        deployment.stop()
        raise typer.Exit(1) from exc
    for name, listeners in deployment.listening.items():
        _print_frontend(deployment.nodes[name], listeners)
    workers = deployment.worker_nodes(timeout=settings.cluster.start_timeout)
    spread = sorted({node_id[:NODE_ID_CHARS] for node_id in workers})
    console.print(f"Pipeline    {len(workers)} workers on {len(spread)} nodes: {', '.join(spread)}")
    api_host, api_port = endpoints.api
    console.print(f"API         listening on http://{api_host}:{api_port}/api/v1 (head node)")
    console.print(f"Admin token {endpoints.admin_token}")
    console.print(f"Domains     {', '.join(settings.domains) or '(none; add with --domain)'}")
    console.print(f"{READY_LINE}. Press Ctrl-C to stop.")
    sys.stdout.flush()
    next_look = time.monotonic() + NODE_WATCH_SECONDS

    def look_for_new_nodes() -> None:
        nonlocal next_look
        if time.monotonic() < next_look:
            return
        try:
            for name, listeners in deployment.add_joined_nodes(
                settings.cluster.start_timeout
            ).items():
                _print_frontend(deployment.nodes[name], listeners)
                sys.stdout.flush()
        except Exception:  # a look at the nodes failed: the running ones are unaffected
            _log.exception("looking for SMTP nodes that joined")
        next_look = time.monotonic() + NODE_WATCH_SECONDS

    try:
        wait_for_stop_signal(look_for_new_nodes)
    finally:
        console.print("MaiRust stopping ...")
        deployment.stop()
        console.print("MaiRust stopped.")


def _print_frontend(node: SmtpNode, listeners: Listeners) -> None:
    where = ", ".join(f"{name} {host}:{port}" for name, host, port in listeners)
    console.print(f"SMTP node   {node.short_id} ({node.address}): {where}")
