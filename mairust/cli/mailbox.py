"""``mairust mailbox ...``: mailbox housekeeping the operator runs (retention)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console

from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.services.mailboxes import MailboxService

mailbox_app = typer.Typer(help="Mailbox housekeeping: Trash and Junk retention.")
console = Console()


@mailbox_app.command("expire")
def mailbox_expire(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Purge Trash and Junk entries older than `mailbox.trash_days` / `mailbox.junk_days`
    (every tenant), with their search documents and the message bodies nothing else needs."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        service = MailboxService(stores, settings.mailbox)
        console.print(
            f"expiring Trash after {settings.mailbox.trash_days} days, "
            f"Junk after {settings.mailbox.junk_days} days (0: never)"
        )

        def progress(folder: str, purged: int) -> None:
            console.print(f"  {folder}: {purged} purged so far")

        report = service.expire(datetime.now(UTC), progress)
    console.print(
        f"purged {report.trash} from Trash and {report.junk} from Junk; "
        f"{report.blobs_deleted} message bodies deleted"
    )
