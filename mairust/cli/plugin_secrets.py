"""``mairust plugin secret ...``: the secrets a plugin's manifest names, set (the value read
from standard input or a prompt, never from the command line, where other users and the
shell's history would see it), listed (names only) and deleted, through the same
:class:`~mairust.services.plugin_secrets.PluginSecretService` as the admin API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import ConfigOption, DataDirOption
from mairust.cli.plugins import console, operator_application
from mairust.errors import InvalidInput

secret_app = typer.Typer(
    help="A plugin's secrets (its manifest names them): set, list, delete. Values are "
    "sealed in the secret store and never shown."
)


@secret_app.command("set")
def secret_set(
    plugin: str,
    name: Annotated[str, typer.Argument(help="A secret the plugin's manifest names.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a secret; its value is read from standard input (or asked for at a terminal)."""
    if sys.stdin.isatty():
        value = typer.prompt(f"{plugin} {name}", hide_input=True)
    else:
        value = sys.stdin.read().removesuffix("\n")
    with operator_application(data_dir, config) as application:
        if not value:
            raise InvalidInput("the secret's value is empty")
        application.plugin_secrets.set(cli_principal(), plugin, name, value.encode("utf-8"))
    console.print(f"{plugin}: secret {name} set")


@secret_app.command("list")
def secret_list(plugin: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The secrets the plugin names: set or not, and since when (never a value)."""
    with operator_application(data_dir, config) as application:
        states = application.plugin_secrets.states(cli_principal(), plugin)
    table = Table()
    for heading in ("name", "set", "since", "named by the manifest"):
        table.add_column(heading, no_wrap=heading == "name")
    for state in states:
        since = state.set_at.isoformat(timespec="seconds") if state.set_at else "-"
        table.add_row(
            state.name,
            "yes" if state.set_at else "no",
            since,
            "yes" if state.declared else "no (older version)",
        )
    console.print(table)


@secret_app.command("delete")
def secret_delete(
    plugin: str, name: str, data_dir: DataDirOption = None, config: ConfigOption = None
) -> None:
    """Delete a secret (a plugin that is on and needs it is switched off)."""
    with operator_application(data_dir, config) as application:
        application.plugin_secrets.delete(cli_principal(), plugin, name)
    console.print(f"{plugin}: secret {name} deleted")
