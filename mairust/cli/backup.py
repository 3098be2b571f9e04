"""``mairust backup DEST`` and ``mairust restore SRC``: thin commands over
:mod:`mairust.backup`, drawing its progress with rich."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from mairust.backup.create import create_backup
from mairust.backup.restore import restore_backup
from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from

console = Console(stderr=True)

MASTER_KEY_NOTE = (
    "[bold yellow]The master key is NOT in this backup.[/] The secrets in it stay sealed "
    "and open only with that key: keep it apart from the backup (a password manager, a "
    "vault) — it is secrets.key / MAIRUST_SECRETS__KEY, or the data dir's secrets_key "
    "file on an embedded platform. Or back up again with --include-master-key and guard "
    "the backup like the key."
)


class RichProgress:
    """A :class:`mairust.backup.progress.ProgressReport` drawing one bar per stage."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish()
        self._progress.stop()

    def stage(self, name: str, total: int | None) -> None:
        self._finish()
        self._task = self._progress.add_task(name, total=total)

    def advance(self, count: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)

    def _finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            # A stage of unknown size shows as one step done; a counted one as its count.
            done = task.completed if task.total is not None else 1
            self._progress.update(self._task, total=done, completed=done)


def backup(
    destination: Annotated[Path, typer.Argument(help="A new (or empty) directory.")],
    include_master_key: Annotated[
        bool,
        typer.Option(
            "--include-master-key",
            help="Also write the master key (and the config's) into the backup: whoever "
            "holds the backup can then open every secret in it.",
        ),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Back up metadata, message blobs, sealed secrets, the search index (embedded), the
    data dir's files and the config file into DESTINATION.

    Safe while `mairust up` runs: the metadata is read as of one moment, then every blob
    it names is copied (blobs are durable before their row commits).
    """
    with reported_errors(), RichProgress() as progress:
        manifest = create_backup(
            settings_from(data_dir, config),
            destination,
            config_file=config,
            include_master_key=include_master_key,
            progress=progress,
        )
    rows = sum(manifest.row_counts.values())
    console.print(
        f"backup of schema {manifest.schema_revision} in {destination}: {rows} rows in "
        f"{len(manifest.row_counts)} tables, {manifest.blob_count} blobs "
        f"({manifest.blob_bytes} bytes); search index "
        + ("included" if manifest.search_included else "rebuilt on restore")
    )
    if manifest.missing_blobs:
        console.print(
            f"[yellow]{len(manifest.missing_blobs)} messages were purged during the backup; "
            "their blobs are not in it"
        )
    if manifest.master_key_included:
        console.print(
            "[bold red]This backup holds the master key:[/] anyone who reads it can open "
            "every secret in it. Store it encrypted."
        )
    elif manifest.key_ids:
        console.print(MASTER_KEY_NOTE + f" Key id: {manifest.key_ids[0]}.")


def restore(
    source: Annotated[Path, typer.Argument(help="A backup directory made by `mairust backup`.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Restore over stores and data dir files that already hold data."
        ),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Restore a backup into the (empty) stores the config names. Stop the platform first.

    Refuses an unfinished or damaged backup, one from a newer schema than this MaiRust
    knows, and a target that holds data (unless --force).
    """
    with reported_errors(), RichProgress() as progress:
        report = restore_backup(
            settings_from(data_dir, config), source, force=force, progress=progress
        )
    manifest = report.manifest
    console.print(
        f"restored {sum(manifest.row_counts.values())} rows and {report.blobs} blobs from "
        f"schema {manifest.schema_revision} (now upgraded), {report.files} data dir files"
        + (f"; reindexed {report.reindexed} entries" if report.reindexed is not None else "")
    )
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}")
