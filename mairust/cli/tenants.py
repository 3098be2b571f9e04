"""``mairust tenant ...``: tenants and their home region.

In a deployment of several regions every region holds a row for every tenant (the
directory is not replicated: docs/scale-out/regions.md); ``--home-region`` names the region
whose stores hold the tenant's mail, so this region relays its mail there and redirects its
API calls there. The commands act as the platform admin through
:class:`~mairust.services.directory.DirectoryService`, which checks the region against the
regions config (``[regions] file``) and records the change in the audit log.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    configured_regions,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.config import Settings
from mairust.model.directory import Tenant
from mairust.services.audit import AuditTrail
from mairust.services.directory import DirectoryService
from mairust.storage.protocols import MetadataStore

tenant_app = typer.Typer(
    help="Tenants and their home region (the region whose stores hold their mail)."
)
console = Console()

HomeRegionOption = Annotated[
    str | None,
    typer.Option(
        "--home-region",
        help="A region named in the regions file ([regions] file) whose stores hold the "
        "tenant's mail; mail for it that arrives here is relayed there, API calls are "
        "redirected there. Default: this region.",
        show_default=False,
    ),
]


def tenant_service(settings: Settings, metadata: MetadataStore) -> DirectoryService:
    return DirectoryService(metadata, AuditTrail(metadata), configured_regions(settings))


@tenant_app.command("add")
def tenant_add(
    name: Annotated[str, typer.Argument(help="The tenant's name, e.g. acme")],
    home_region: HomeRegionOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a tenant (then give it domains with `mairust domain add NAME --tenant ...`)."""
    with reported_errors():
        settings = settings_from(data_dir, config)
        with opened_stores(settings) as stores:
            service = tenant_service(settings, stores.metadata)
            tenant = service.create_tenant(cli_principal(), name, home_region)
    console.print(f"added tenant [bold]{tenant.name}[/] ({tenant.id}), home {_home(tenant)}")


@tenant_app.command("set")
def tenant_set(
    tenant: Annotated[str, typer.Argument(help="The tenant's name or id")],
    home_region: HomeRegionOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a tenant's home region (no `--home-region`: this region). No mail moves: a
    tenant with mailboxes here cannot be given another home."""
    with reported_errors():
        settings = settings_from(data_dir, config)
        with opened_stores(settings) as stores:
            service = tenant_service(settings, stores.metadata)
            updated = service.set_tenant_home(cli_principal(), tenant, home_region)
    console.print(f"tenant [bold]{updated.name}[/]: home {_home(updated)}")


@tenant_app.command("list")
def tenant_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List tenants and their home regions."""
    with reported_errors():
        settings = settings_from(data_dir, config)
        with opened_stores(settings) as stores:
            tenants = tenant_service(settings, stores.metadata).list_tenants(cli_principal())
    table = Table("tenant", "id", "home region", "created")
    for tenant in tenants:
        table.add_row(
            tenant.name, tenant.id, _home(tenant), tenant.created_at.isoformat(timespec="seconds")
        )
    console.print(table)


def _home(tenant: Tenant) -> str:
    return tenant.home_region or "this region"
