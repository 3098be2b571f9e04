"""Options every command shares, and how they become Settings and open stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mairust.config import Settings, load_settings
from mairust.errors import InvalidInput, MairustError
from mairust.regions import Regions, regions_of
from mairust.storage.factory import migrate, open_stores
from mairust.storage.stores import Stores

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where embedded data lives (metadata.db, blobs/, search.db). Default ./.mairust.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML config file; see docs/mairust.example.toml for every key.",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]
DomainOption = Annotated[
    list[str] | None,
    typer.Option("--domain", help="Serve this domain (creates its tenant). Repeatable."),
]
LogLevelOption = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
]


def settings_from(data_dir: Path | None, config: Path | None, **overrides: object) -> Settings:
    """Settings from the config file, MAIRUST_* variables and the command line."""
    return load_settings(config, data_dir=data_dir, **overrides)


@contextmanager
def opened_stores(settings: Settings) -> Iterator[Stores]:
    """Migrate (idempotent) and open the stores for one command."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        yield stores
    finally:
        stores.close()


def configured_regions(settings: Settings) -> Regions | None:
    """The regions config ``[regions] file`` names (None: a single region); InvalidInput
    saying what is wrong with the file, for one line on stderr rather than a traceback."""
    try:
        return regions_of(settings.regions.file, settings.regions.local)
    except (OSError, ValueError) as error:
        raise InvalidInput(f"[regions] file {settings.regions.file}: {error}") from error


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn domain errors into one clear line on stderr and exit code 1, not a traceback."""
    try:
        yield
    except MairustError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
