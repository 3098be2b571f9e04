"""``mairust search ...``: the full-text index."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.model.scope import PLATFORM
from mairust.search.indexing import drain_search_backlog, reindex_all

search_app = typer.Typer(help="The full-text search index.")
console = Console(stderr=True)


@search_app.command("reindex")
def reindex(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Rebuild the search index from the metadata store and the message blobs.

    Safe while `mairust up` runs: documents are replaced by entry id. Entries that cannot
    be indexed now are left in the search backlog for the indexer.
    """
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        total = stores.metadata.count_entries(PLATFORM)
        with Progress(
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("reindex", total=total)
            indexed = reindex_all(stores, progress=lambda n: progress.advance(task, n))
        drained = drain_search_backlog(stores)
    console.print(f"indexed {indexed} entries; {drained} more from the backlog")
