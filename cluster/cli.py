"""The ``mairust`` command: ``up`` (embedded platform) plus the core's admin commands."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from cluster.commands import cluster_app
from cluster.embedded import EmbeddedCluster
from cluster.stop_signal import wait_for_stop_signal
from mairust import __version__
from mairust.cli.acme import acme_app
from mairust.cli.backup import backup, restore
from mairust.cli.db import db_app
from mairust.cli.directory import domain_app, user_app
from mairust.cli.dkim import dkim_app
from mairust.cli.dmarc import dmarc_app
from mairust.cli.mailbox import mailbox_app
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    DomainOption,
    LogLevelOption,
    reported_errors,
    settings_from,
)
from mairust.cli.outbound import outbound_app
from mairust.cli.plugin_packages import catalog_app
from mairust.cli.plugin_secrets import secret_app
from mairust.cli.plugins import hook_app, plugin_app
from mairust.cli.quarantine import quarantine_app
from mairust.cli.queue import queue_app
from mairust.cli.search import search_app
from mairust.cli.secrets import secrets_app
from mairust.cli.storage import storage_app
from mairust.cli.suppressions import suppression_app
from mairust.cli.tenants import tenant_app
from mairust.cli.tls_reports import tls_reports_app
from mairust.cli.tokens import token_app
from mairust.log_format import configure_logging
from mairust.secrets.master_key import load_keyring

app = typer.Typer(
    name="mairust",
    help=(
        "MaiRust: an API-driven mail platform on Ray.\n\n"
        "Start everything on this machine with `mairust up --domain example.test`, "
        "add a mailbox with `mairust user add alice@example.test`, then send mail to "
        "127.0.0.1:2525 and read it at http://127.0.0.1:8000/api/v1/messages."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(domain_app, name="domain")
app.add_typer(user_app, name="user")
app.add_typer(queue_app, name="queue")
app.add_typer(search_app, name="search")
app.add_typer(storage_app, name="storage")
app.add_typer(secrets_app, name="secrets")
app.add_typer(token_app, name="token")
app.add_typer(mailbox_app, name="mailbox")
plugin_app.add_typer(secret_app, name="secret")
plugin_app.add_typer(catalog_app, name="catalog")
app.add_typer(plugin_app, name="plugin")
app.add_typer(hook_app, name="hook")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(outbound_app, name="outbound")
app.add_typer(suppression_app, name="suppression")
app.add_typer(dkim_app, name="dkim")
app.add_typer(dmarc_app, name="dmarc")
app.add_typer(acme_app, name="acme")
app.add_typer(tls_reports_app, name="tls-reports")
app.add_typer(cluster_app, name="cluster")
app.add_typer(db_app, name="db")
app.command("backup")(backup)
app.command("restore")(restore)
console = Console(soft_wrap=True)


@app.command()
def up(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    smtp_port: Annotated[
        int | None,
        typer.Option("--smtp-port", help="Inbound SMTP port [default: 2525].", min=0, max=65535),
    ] = None,
    submission_port: Annotated[
        int | None,
        typer.Option(
            "--submission-port", help="Submission (AUTH) port [default: 2587].", min=0, max=65535
        ),
    ] = None,
    api_port: Annotated[
        int | None,
        typer.Option("--api-port", help="REST API port [default: 8000].", min=1, max=65535),
    ] = None,
    domain: DomainOption = None,
    log_level: LogLevelOption = None,
) -> None:
    """Run the whole platform on this machine: a local Ray and the stores the config names
    (embedded by default: SQLite, local files, SQLite FTS5; or PostgreSQL, S3, OpenSearch).

    Listens on 127.0.0.1 only unless the config says otherwise; prints where it
    listens and the admin API token, then runs until Ctrl-C (or SIGTERM).
    """
    with reported_errors():
        settings = settings_from(
            data_dir,
            config,
            smtp={"port": smtp_port, "submission_port": submission_port},
            api={"port": api_port},
            log_level=log_level,
        )
        # Before any process starts: a shared metadata store without the shared master key
        # is a configuration error to say in one line, not an actor dying at start-up.
        load_keyring(settings)
    if domain:
        settings.domains = sorted({*settings.domains, *domain})
    configure_logging(settings.log_level, settings.log_format)
    cluster = EmbeddedCluster(settings)
    console.print(f"MaiRust {__version__} starting (data in {settings.data_dir}) ...")
    try:
        endpoints = cluster.start()
    except Exception as exc:
        logging.getLogger(__name__).exception("start-up failed")
        console.print(f"[red]MaiRust could not start:[/] {exc}")
        cluster.stop()
        raise typer.Exit(1) from exc
    host, port = endpoints.smtp
    sub_host, sub_port = endpoints.submission
    api_host, api_port_bound = endpoints.api
    processes = settings.smtp.frontends_per_node
    shared = f" ({processes} front-end processes on these ports)" if processes > 1 else ""
    console.print(f"SMTP        listening on {host}:{port}{shared}")
    console.print(f"Submission  listening on {sub_host}:{sub_port} (AUTH required)")
    if endpoints.submissions is not None:
        tls_host, tls_port = endpoints.submissions
        console.print(f"Submissions listening on {tls_host}:{tls_port} (implicit TLS)")
    console.print(f"TLS         certificate {settings.smtp.tls_cert_file} (STARTTLS offered)")
    console.print(
        f"API         listening on http://{api_host}:{api_port_bound}/api/v1 "
        f"(OpenAPI at /openapi.json)"
    )
    console.print(f"Admin UI    http://{api_host}:{api_port_bound}/ (sign in with the admin token)")
    console.print(f"Admin token {endpoints.admin_token}")
    console.print(f"Domains     {', '.join(settings.domains) or '(none; add with --domain)'}")
    console.print("MaiRust is up. Press Ctrl-C to stop.")
    sys.stdout.flush()
    try:
        wait_for_stop_signal()
    finally:
        console.print("MaiRust stopping ...")
        cluster.stop()
        console.print("MaiRust stopped.")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()
