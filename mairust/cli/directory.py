"""``mairust domain ...`` and ``mairust user ...``: local domains and mailboxes.

The commands act as the platform admin (whoever may run them may open the stores) through
:class:`~mairust.services.directory.DirectoryService`, so the rules and the audit log are
the API's.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.errors import InvalidInput
from mairust.model.address import normalize_address
from mairust.model.principal import Principal, Role
from mairust.services.audit import AuditTrail
from mairust.services.directory import DirectoryService, NewUser
from mairust.storage.protocols import MetadataStore

domain_app = typer.Typer(help="Local domains: mail for them is accepted and stored.")
user_app = typer.Typer(help="Mailboxes (users) in local domains.")
console = Console()


def cli_principal() -> Principal:
    """The platform admin, named after the local user for the audit log."""
    return Principal.platform(f"cli:{getpass.getuser()}", "cli")


def directory_service(metadata: MetadataStore) -> DirectoryService:
    return DirectoryService(metadata, AuditTrail(metadata))


def ensure_domain(metadata: MetadataStore, name: str, tenant: str | None = None) -> bool:
    """Create ``name`` (and its tenant, named after the domain by default) unless it exists.

    Returns True when something was created.
    """
    return directory_service(metadata).ensure_domain(cli_principal(), name, tenant)


@domain_app.command("add")
def domain_add(
    name: Annotated[str, typer.Argument(help="Domain name, e.g. example.test")],
    tenant: Annotated[
        str | None, typer.Option(help="Owning tenant (created if missing). Default: the domain.")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a local domain."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        domain, _ = directory_service(stores.metadata).create_domain(cli_principal(), name, tenant)
    console.print(f"added domain [bold]{domain.name}[/]")


@domain_app.command("list")
def domain_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List local domains and their tenants."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        directory = directory_service(stores.metadata)
        tenants = directory.tenant_names()
        table = Table("domain", "tenant", "created")
        for domain in directory.list_domains(cli_principal()):
            table.add_row(
                domain.name,
                tenants.get(domain.tenant_id, domain.tenant_id),
                domain.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)


@user_app.command("add")
def user_add(
    address: Annotated[str, typer.Argument(help="Mailbox address, e.g. alice@example.test")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read an SMTP AUTH password from stdin.")
    ] = False,
    create_domain: Annotated[
        bool, typer.Option("--create-domain", help="Add the domain first if it is not local.")
    ] = False,
    tenant_admin: Annotated[
        bool,
        typer.Option(
            "--tenant-admin", help="Make the user a tenant admin (manages the tenant's users)."
        ),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a mailbox. Its domain must be local (see `mairust domain add`)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            with reported_errors():
                raise InvalidInput("--password-stdin: the password read from stdin is empty")
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        directory = directory_service(stores.metadata)
        normalized = normalize_address(address)
        if create_domain:
            directory.ensure_domain(cli_principal(), normalized.rpartition("@")[2])
        new = NewUser(normalized, password, Role.TENANT_ADMIN if tenant_admin else Role.USER)
        mailbox = directory.create_user(cli_principal(), new)
    console.print(f"added mailbox [bold]{mailbox.address}[/] ({mailbox.id})")


@user_app.command("list")
def user_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List mailboxes."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        table = Table("address", "id", "role", "auth", "created")
        for mailbox in directory_service(stores.metadata).list_users(cli_principal()):
            table.add_row(
                mailbox.address,
                mailbox.id,
                mailbox.role.value,
                "yes" if mailbox.password_hash else "no",
                mailbox.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)
