"""``mairust dkim keygen|rotate|list DOMAIN``: a sending domain's DKIM keys, through the same
:class:`~mairust.services.dkim_keys.DkimKeyService` as the API (rules and audit alike).

Each command prints the public parts and the DNS TXT record to publish; a private key is
never printed (it is sealed in the secret store when made).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import ConfigOption, DataDirOption
from mairust.cli.plugins import console, operator_application
from mairust.model.dkim_keys import DkimAlgorithm, DkimKey

dkim_app = typer.Typer(
    help="Sending domains' DKIM keys (rsa2048, ed25519): made, rotated and listed; the private "
    "halves stay in the secret store."
)

AlgorithmOption = Annotated[
    DkimAlgorithm, typer.Option("--algorithm", "-a", help="Key type: rsa2048 or ed25519.")
]


@dkim_app.command("keygen")
def keygen(
    domain: str,
    algorithm: AlgorithmOption = DkimAlgorithm.RSA2048,
    selector: Annotated[
        str | None, typer.Option(help="DNS selector (default: mr<yyyymm>, e for ed25519).")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Make an active key for DOMAIN and print the DNS record to publish."""
    with operator_application(data_dir, config) as application:
        key = application.dkim.keygen(cli_principal(), domain, algorithm, selector)
    _print_records([key])


@dkim_app.command("rotate")
def rotate(
    domain: str,
    algorithm: Annotated[
        DkimAlgorithm | None,
        typer.Option("--algorithm", "-a", help="Rotate only this key type (default: every one)."),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Replace DOMAIN's active key(s) with new ones under new selectors; the old ones are
    retired and stay published for the grace period (publish the new records now)."""
    with operator_application(data_dir, config) as application:
        keys = application.dkim.rotate(cli_principal(), domain, algorithm)
    _print_records(keys)


@dkim_app.command("list")
def list_keys(domain: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """DOMAIN's keys: selector, type, state, when made and retired."""
    with operator_application(data_dir, config) as application:
        keys = application.dkim.list(cli_principal(), domain)
    table = Table()
    # Selectors are identifiers: never cut short, however narrow the terminal.
    width = max((len(key.selector) for key in keys), default=8)
    table.add_column("selector", no_wrap=True, min_width=width)
    for heading in ("algorithm", "state", "created", "retired"):
        table.add_column(heading)
    for key in keys:
        table.add_row(
            key.selector,
            key.algorithm.value,
            key.state.value,
            key.created_at.isoformat(timespec="seconds"),
            key.retired_at.isoformat(timespec="seconds") if key.retired_at else "-",
        )
    console.print(table)


def _print_records(keys: Sequence[DkimKey]) -> None:
    for key in keys:
        console.print(f"{key.algorithm.value} key [bold]{key.selector}[/] made for {key.domain}")
        # Plain print, no wrapping: the record is copied into a zone as it is.
        console.print(f"{key.dns_name}. IN TXT", key.dns_record, soft_wrap=True, markup=False)
