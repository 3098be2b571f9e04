"""``mairust queue ...``: look at the delivery queue."""

from __future__ import annotations

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
from mairust.model.queue import QueueState

queue_app = typer.Typer(help="The delivery queue (one row per message and recipient).")
console = Console()


@queue_app.command("list")
def queue_list(
    state: Annotated[
        QueueState | None, typer.Option(help="Only rows in this state.", case_sensitive=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows.")] = 100,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List queue rows (newest first) and the count per state."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        rows = stores.metadata.list_queue(state, limit)
        counts = stores.metadata.queue_counts()
    table = Table("id", "state", "attempts", "next attempt", "last error")
    # Ids and addresses are what people copy: never cut or wrap them, whatever the width.
    table.add_column("message", no_wrap=True, min_width=26)
    table.add_column("recipient", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row.id),
            row.state.value,
            str(row.attempts),
            row.next_attempt_at.isoformat(timespec="seconds"),
            row.last_error or "",
            row.message.id,
            row.recipient,
        )
    console.print(table)
    console.print("  ".join(f"{s.value}: {counts.get(s, 0)}" for s in QueueState))
