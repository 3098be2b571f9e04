"""``mairust domain ...`` and ``mairust user ...``: local domains and mailboxes."""

from __future__ import annotations

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
from mairust.errors import Conflict, InvalidInput
from mairust.model.address import normalize_address, normalize_domain
from mairust.model.scope import PLATFORM
from mairust.passwords import hash_password
from mairust.storage.protocols import DirectoryStore

domain_app = typer.Typer(help="Local domains: mail for them is accepted and stored.")
user_app = typer.Typer(help="Mailboxes (users) in local domains.")
console = Console()


def ensure_domain(metadata: DirectoryStore, name: str, tenant: str | None = None) -> bool:
    """Create ``name`` (and its tenant, named after the domain by default) unless it exists.

    Returns True when something was created.
    """
    domain = normalize_domain(name)
    if metadata.get_domain(domain) is not None:
        return False
    tenant_name = tenant or domain
    owner = metadata.get_tenant_by_name(tenant_name) or metadata.create_tenant(tenant_name)
    metadata.add_domain(domain, owner.id)
    return True


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
        if not ensure_domain(stores.metadata, name, tenant):
            raise Conflict(f"domain {normalize_domain(name)} exists already")
    console.print(f"added domain [bold]{normalize_domain(name)}[/]")


@domain_app.command("list")
def domain_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List local domains and their tenants."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        tenants = {t.id: t.name for t in stores.metadata.list_tenants()}
        table = Table("domain", "tenant", "created")
        for domain in stores.metadata.list_domains(PLATFORM):
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
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a mailbox. Its domain must be local (see `mairust domain add`)."""
    password_hash = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            with reported_errors():
                raise InvalidInput("--password-stdin: the password read from stdin is empty")
        password_hash = hash_password(password)
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        normalized = normalize_address(address)
        if create_domain:
            ensure_domain(stores.metadata, normalized.rpartition("@")[2])
        mailbox = stores.metadata.add_mailbox(normalized, password_hash)
    console.print(f"added mailbox [bold]{mailbox.address}[/] ({mailbox.id})")


@user_app.command("list")
def user_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List mailboxes."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        table = Table("address", "id", "auth", "created")
        for mailbox in stores.metadata.list_mailboxes(PLATFORM):
            table.add_row(
                mailbox.address,
                mailbox.id,
                "yes" if mailbox.password_hash else "no",
                mailbox.created_at.isoformat(timespec="seconds"),
            )
    console.print(table)
