"""``mairust token ...``: API tokens, issued and revoked by the operator on this machine.

The commands act as the platform admin (see :func:`mairust.cli.directory.cli_principal`)
through the same :class:`~mairust.services.tokens.TokenService` as the API, so the rules,
the digests and the audit log are the API's. A new token's secret is printed once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    configured_regions,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.errors import InvalidInput, NotFound
from mairust.model.principal import Permission, Role
from mairust.secrets.master_key import load_keyring
from mairust.services.application import Application
from mairust.services.tokens import TokenRequest

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.")
console = Console()


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'billing-sync'.")],
    permission: Annotated[
        list[Permission],
        typer.Option("--permission", "-p", help="read, write, send or admin; may repeat."),
    ],
    role: Annotated[Role, typer.Option(help="admin, tenant_admin or user.")] = Role.TENANT_ADMIN,
    tenant: Annotated[
        str | None, typer.Option(help="The tenant's name (for tenant_admin and user tokens).")
    ] = None,
    user: Annotated[str | None, typer.Option(help="The mailbox address of a user token.")] = None,
    days: Annotated[
        float | None, typer.Option(min=0.001, help="Expire after this many days (default never).")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a token and print its secret (this once). In a deployment of several regions
    the token names this region (`mrt_<region>_...`) and works only here and, by redirect,
    from the other regions' APIs."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        application = Application.over(
            stores,
            load_keyring(settings).token_digest_keys(),
            regions=configured_regions(settings),
        )
        principal = cli_principal()
        tenant_id = None
        if tenant is not None:
            found = stores.metadata.get_tenant_by_name(tenant)
            if found is None:
                raise NotFound(f"no tenant {tenant!r}")
            tenant_id = found.id
        mailbox_id = None
        if user is not None:
            mailbox = application.directory.find_user(principal, user)
            mailbox_id, tenant_id = mailbox.id, mailbox.tenant_id
        if role is Role.USER and mailbox_id is None:
            raise InvalidInput("a user token needs --user")
        expires = datetime.now(UTC) + timedelta(days=days) if days is not None else None
        request = TokenRequest(name, frozenset(permission), role, tenant_id, mailbox_id, expires)
        issued = application.tokens.issue(principal, request)
    console.print(f"token [bold]{issued.token.id}[/] ({role.value}, {_names(permission)})")
    # The secret alone on stdout's last line, so scripts can take it with `tail -n 1`.
    print(issued.secret)  # noqa: T201


@token_app.command("list")
def token_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List tokens (never their secrets)."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        application = Application.over(stores, load_keyring(settings).token_digest_keys())
        tokens = application.tokens.list_tokens(cli_principal(), limit=10_000)
    table = Table("id", "name", "role", "tenant", "permissions", "expires", "revoked", "last used")
    for token in tokens:
        table.add_row(
            token.id,
            token.name,
            token.role.value,
            token.tenant_id or "-",
            _names(token.permissions),
            _when(token.expires_at),
            _when(token.revoked_at),
            _when(token.last_used_at),
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `mairust token list`).")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a token: it stops working within api.token_cache_seconds (2 s by default)."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        application = Application.over(stores, load_keyring(settings).token_digest_keys())
        token = application.tokens.revoke(cli_principal(), token_id)
    console.print(
        f"revoked token [bold]{token.id}[/] ({token.name}); an API replica that saw it in the "
        f"last {settings.api.token_cache_seconds:g} s (api.token_cache_seconds) may accept it "
        "that much longer"
    )


def _names(permissions: Iterable[Permission]) -> str:
    return ",".join(sorted(p.value for p in permissions))


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment is not None else "-"
