"""``mairust storage ...``: housekeeping of the stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.storage.blob_sweep import DEFAULT_GRACE, SweepableBlobStore, sweep_orphans

storage_app = typer.Typer(help="Housekeeping of the stores.")
console = Console()


@storage_app.command("sweep")
def sweep(
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than",
            min=0,
            help="Only blobs and unfinished uploads older than this many seconds (a blob "
            "younger than the SMTP and store timeouts may belong to a message being committed).",
        ),
    ] = DEFAULT_GRACE.total_seconds(),
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count what would go, remove nothing."),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove from the blob store (S3 or files) the blobs no message names, left by writes
    that never got their 250, and unfinished uploads: S3 multipart uploads, `.tmp-*` files
    of the file store. Safe while `mairust up` runs."""
    with reported_errors(), opened_stores(settings_from(data_dir, config)) as stores:
        if not isinstance(stores.blobs, SweepableBlobStore):
            console.print(f"nothing to sweep: {type(stores.blobs).__name__} cannot be listed")
            return
        report = sweep_orphans(
            stores.metadata, stores.blobs, timedelta(seconds=older_than), dry_run=dry_run
        )
    if dry_run:
        outcome = f"would delete {report.orphans}; would abort {report.uploads}"
    else:
        # "of": an upload listed but already gone when aborted is counted, not hidden.
        outcome = f"deleted {report.deleted}; aborted {report.uploads_aborted} of {report.uploads}"
    console.print(
        f"examined {report.examined} blobs; {report.orphans} orphaned, {outcome} unfinished uploads"
    )
