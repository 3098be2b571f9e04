"""``mairust db ...``: the metadata schema's revision against this code's, and the upgrade
an operator runs first in a rolling upgrade (docs/scale-out/upgrades.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from
from mairust.storage.factory import migrate, schema_status
from mairust.storage.schema_revisions import Relation, SchemaVerdict

db_app = typer.Typer(help="The metadata schema: its revision, and upgrading it.")
console = Console(soft_wrap=True)


@db_app.command("status")
def status(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Say the schema's revision, this code's newest (head) revision and whether this code
    may run on the schema; exits 1 when it may not. Changes nothing.

    A database behind this code is upgraded by any start (or `mairust db upgrade`); the
    line `oldest code` says which release's nodes may keep running on it afterwards. A
    database ahead of this code (a newer release migrated it) may be run on when every
    newer migration is an expand step.
    """
    with reported_errors():
        found = schema_status(settings_from(data_dir, config).storage)
    _print(found)
    if not found.may_run:
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Bring the schema to this code's head, as every start does first; safe to repeat and
    to run while nodes run. In a rolling upgrade run it with the NEW release before any of
    its nodes starts: nodes of the old release keep running on the upgraded schema when
    `mairust db status` (new release) said so. A schema ahead of this code is left as it
    is (exit 1 when this code may not run on it).
    """
    with reported_errors():
        settings = settings_from(data_dir, config)
        settings.data_dir.mkdir(parents=True, exist_ok=True)  # an embedded database's home
        before = migrate(settings.storage)
        after = schema_status(settings.storage)
    if before.relation is Relation.AHEAD:
        console.print(f"left at {before.database}: ahead of this code ({before.code_head})")
    elif before.relation is Relation.BEHIND:
        console.print(f"upgraded {before.database} to {after.database}: {before.explanation}")
    elif before.relation is Relation.EMPTY:
        console.print(f"created the schema at {after.database}")
    else:
        console.print(f"already at {after.database}")
    _print(after)


def _print(found: SchemaVerdict) -> None:
    console.print(f"schema       {found.database or '(none)'}")
    console.print(f"code head    {found.code_head}")
    console.print(f"relation     {found.relation.value}: {found.explanation}")
    console.print(f"oldest code  {found.oldest_code or '(unknown)'}")
    console.print(f"may run      {'yes' if found.may_run else 'no'}")
