"""``mairust suppression ...``: a tenant's suppression list on this machine — list it,
add or import addresses, remove one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.options import ConfigOption, DataDirOption
from mairust.cli.plugins import operator_application
from mairust.cli.quarantine import _principal as operator_or_tenant
from mairust.model.suppression import SuppressionReason
from mairust.services.suppressions import Imported

suppression_app = typer.Typer(
    help=(
        "Each tenant's suppression list: addresses its mail must not go to (hard bounces "
        "and complaints are added by themselves). Sending to one is refused with its reason."
    ),
    no_args_is_help=True,
)
console = Console()

TenantArgument = Annotated[str, typer.Argument(help="The tenant (its id).")]


@suppression_app.command("list")
def suppression_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    after: Annotated[str | None, typer.Option(help="Continue after this address.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Suppressed addresses by address (every tenant's, or one tenant's)."""
    with operator_application(data_dir, config) as application:
        entries = application.suppressions.entries(operator_or_tenant(None), tenant, limit, after)
    table = Table("address", "reason", "since", "tenant", "detail")
    for entry in entries:
        table.add_row(
            entry.address,
            entry.reason.value,
            entry.created_at.isoformat(timespec="seconds"),
            entry.tenant_id,
            entry.detail,
        )
    console.print(table)
    if len(entries) == limit:
        console.print(f"more: --after {entries[-1].address}")


@suppression_app.command("add")
def suppression_add(
    tenant: TenantArgument,
    addresses: Annotated[list[str], typer.Argument(help="Addresses to suppress.")],
    reason: Annotated[
        SuppressionReason, typer.Option(help="Why.", case_sensitive=False)
    ] = SuppressionReason.MANUAL,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Suppress addresses for a tenant."""
    result = _add(tenant, addresses, reason, data_dir, config)
    console.print(f"added {result.added}, already listed {result.already}")


@suppression_app.command("import")
def suppression_import(
    tenant: TenantArgument,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="One address per line (or CSV: the first column)."
        ),
    ],
    reason: Annotated[
        SuppressionReason, typer.Option(help="Why.", case_sensitive=False)
    ] = SuppressionReason.MANUAL,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Suppress every address of a file (blank lines and lines starting with # skipped)."""
    addresses = [
        line.split(",", 1)[0].strip().strip('"')
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    result = _add(tenant, addresses, reason, data_dir, config)
    console.print(f"imported {len(addresses)}: added {result.added}, already {result.already}")


def _add(
    tenant: str,
    addresses: list[str],
    reason: SuppressionReason,
    data_dir: DataDirOption,
    config: ConfigOption,
) -> Imported:
    with operator_application(data_dir, config) as application:
        return application.suppressions.add(operator_or_tenant(None), addresses, tenant, reason)


@suppression_app.command("remove")
def suppression_remove(
    tenant: TenantArgument,
    address: Annotated[str, typer.Argument(help="The address to send to again.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Take an address off a tenant's list."""
    with operator_application(data_dir, config) as application:
        application.suppressions.remove(operator_or_tenant(None), address, tenant)
    console.print(f"removed {address}")
