"""``mairust quarantine ...``: what hooks held back (a plugin's ``quarantine`` verdict),
listed, released and deleted by the operator on this machine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import ConfigOption, DataDirOption
from mairust.cli.plugins import operator_application
from mairust.model.principal import ALL_PERMISSIONS, Principal, Role
from mairust.model.scope import TenantScope

quarantine_app = typer.Typer(
    help=(
        "Mail held in Quarantine by a hook's `quarantine` verdict: list it, release it "
        "(delivered to the folder it would have gone to, INBOX by default, and recorded as a "
        "`quarantine.released` event), or delete it for good."
    ),
    no_args_is_help=True,
)
console = Console()

MailboxOption = Annotated[
    str | None, typer.Option("--mailbox", help="Only this mailbox (its address).")
]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Only this tenant (its id).")]
EntryIds = Annotated[
    list[str], typer.Argument(help="Entry ids of held messages (the `id` column of `list`).")
]


def _principal(tenant: str | None) -> Principal:
    """The operator, or the operator acting within one tenant (``--tenant``)."""
    operator = cli_principal()
    if tenant is None:
        return operator
    return Principal(
        Role.TENANT_ADMIN, TenantScope(tenant), ALL_PERMISSIONS, operator.actor, operator.source
    )


@quarantine_app.command("list")
def quarantine_list(
    mailbox: MailboxOption = None,
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    before: Annotated[
        str | None, typer.Option(help="Continue after this entry id (the last one listed).")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Held messages of every tenant (or one tenant, or one mailbox), newest first, with the
    folder a release would put each in."""
    principal = _principal(tenant)
    with operator_application(data_dir, config) as application:
        mailbox_id = None
        if mailbox is not None:
            mailbox_id = application.directory.find_user(principal, mailbox).id
        page = application.quarantine.page(principal, mailbox_id, limit, before)
    table = Table()
    # Ids are what release and delete take: never cut short, however narrow the terminal.
    table.add_column("id", no_wrap=True, min_width=26)
    for heading in ("mailbox", "from", "subject", "received", "release to"):
        table.add_column(heading)
    for held in page.items:
        entry = held.entry
        table.add_row(
            entry.id,
            entry.mailbox_address,
            entry.from_addr,
            entry.subject,
            entry.received_at.isoformat(timespec="seconds"),
            held.release_to,
        )
    console.print(table)
    if page.next is not None:
        console.print(f"more: --before {page.next}")


@quarantine_app.command("release")
def quarantine_release(
    entry_ids: EntryIds,
    tenant: TenantOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Deliver held messages to the folder each would have gone to (INBOX by default);
    each release is recorded in the tenant's event log (`quarantine.released`)."""
    principal = _principal(tenant)
    with operator_application(data_dir, config) as application:
        for entry_id in entry_ids:
            entry = application.quarantine.release(principal, entry_id)
            console.print(f"released {entry.id} to {entry.mailbox_address} {entry.folder}")


@quarantine_app.command("delete")
def quarantine_delete(
    entry_ids: EntryIds,
    tenant: TenantOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete held messages for good (their stored bodies too, once nothing else needs
    them)."""
    principal = _principal(tenant)
    with operator_application(data_dir, config) as application:
        for entry_id in entry_ids:
            application.quarantine.delete(principal, entry_id)
            console.print(f"deleted {entry_id}")
