"""``mairust secrets ...``: the master key of the secret store, and the passwords of relay
hosts (``relay-password``: sealed from standard input or a prompt, never the command line,
where other users and the shell's history would see it)."""

from __future__ import annotations

import sys
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
from mairust.errors import InvalidInput
from mairust.model.secrets import SecretPurpose
from mairust.secrets.keyring import Keyring
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import RotationProgress, SecretVault

secrets_app = typer.Typer(help="The secret store: webhook signing secrets, later DKIM keys.")
console = Console()


@secrets_app.command("rotate-key")
def rotate_key(
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Secrets read per round trip.")
    ] = 200,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Re-seal every secret under the current key (`secrets.key`).

    Rotating: put the new key in `secrets.key` and the old one in `secrets.previous_keys`,
    restart, run this; once it reports no secret under an old key, that key may leave
    `previous_keys` (API tokens issued before the change also need it until they expire).
    Safe to run twice, and beside a running platform.
    """
    with reported_errors():
        settings = settings_from(data_dir, config)
        keyring = load_keyring(settings)
        with opened_stores(settings) as stores:
            vault = SecretVault(stores.metadata, keyring)
            console.print(f"re-sealing secrets under key {keyring.current.key_id} ...")
            report = vault.rotate(progress=_print_progress, page_size=page_size)
            counts = vault.count_by_key()
    console.print(
        f"done: {report.examined} secrets examined, {report.resealed} re-sealed, "
        f"{report.already_current} already under the current key, {report.skipped} changed "
        f"meanwhile, {len(report.unreadable)} unreadable"
    )
    for key_id, count in sorted(counts.items()):
        console.print(f"key {key_id} ({_role_of(key_id, keyring)}): {count} secrets")
    if report.unreadable:
        Console(stderr=True).print(
            f"[red]error:[/] {len(report.unreadable)} secrets do not open under any configured "
            f"key and were left as they are: {', '.join(report.unreadable)}"
        )
        raise typer.Exit(1)


@secrets_app.command("relay-password")
def relay_password(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Seal a relay host's AUTH password (read from standard input, or asked for at a
    terminal) and print the secret's id, for `password_secret` in `[relay.auth."host:port"]`.
    Changing a password: seal the new one, put its id in the config."""
    if sys.stdin.isatty():
        value = typer.prompt("relay password", hide_input=True)
    else:
        value = sys.stdin.read().removesuffix("\n")
    with reported_errors():
        if not value:
            raise InvalidInput("the password is empty")
        settings = settings_from(data_dir, config)
        keyring = load_keyring(settings)
        with opened_stores(settings) as stores:
            ref = SecretVault(stores.metadata, keyring).create_platform(
                SecretPurpose.RELAY_PASSWORD, value.encode("utf-8")
            )
    console.print(ref.id)


def _print_progress(progress: RotationProgress) -> None:
    console.print(
        f"  {progress.examined} examined: {progress.resealed} re-sealed, "
        f"{progress.already_current} already current, {len(progress.unreadable)} unreadable"
    )


def _role_of(key_id: str, keyring: Keyring) -> str:
    if key_id == keyring.current.key_id:
        return "current"
    return "previous" if key_id in keyring.key_ids else "unknown"
