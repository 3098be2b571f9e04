"""``mairust acme status|renew``: the SMTP listeners' ACME certificate.

``status`` reads the certificate at ``smtp.tls_cert_file`` and says whether the renewal
loop would order a new one now, and why. ``renew`` orders one now when due (``--force``:
whatever its state) with this process's own HTTP-01 listener, and writes the pair where
the running listeners pick it up from their next connection
(:mod:`mairust.smtp.acme_renewal`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from mairust.cli.options import ConfigOption, DataDirOption, reported_errors, settings_from
from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.smtp.acme_renewal import AcmeRenewer, renewer_from_settings

acme_app = typer.Typer(help="The SMTP listeners' certificate from an ACME CA ([acme]).")
console = Console()


def _renewer(settings: Settings) -> AcmeRenewer:
    if not settings.acme.enabled:
        raise InvalidInput("ACME is not enabled (acme.enabled in the config)")
    return renewer_from_settings(settings)


@acme_app.command("status")
def status(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The certificate's names, issuer and expiry, and whether it is due for renewal."""
    settings = settings_from(data_dir, config)
    with reported_errors():
        renewer = _renewer(settings)
        state = renewer.status()
        console.print(f"certificate {renewer.cert_file}")
        if state.not_after is not None:
            console.print(f"names       {', '.join(state.names) or '(none)'}")
            console.print(f"issuer      {state.issuer}")
            console.print(f"valid until {state.not_after.isoformat()}")
        console.print(f"renewal     {'due: ' + state.due if state.due else 'not due'}")


@acme_app.command("renew")
def renew(
    force: Annotated[
        bool, typer.Option("--force", help="Order a certificate even when none is due.")
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Order a certificate now if one is due (or --force) and write it for the listeners."""
    settings = settings_from(data_dir, config)
    with reported_errors():
        renewer = _renewer(settings)
        if not asyncio.run(renewer.renew_if_due(force=force)):
            console.print("not due: the certificate was kept (--force orders one anyway)")
            return
        state = renewer.status()
        console.print(
            f"renewed: {', '.join(state.names)} from {state.issuer}, valid until "
            f"{state.not_after.isoformat() if state.not_after else '?'}"
        )
