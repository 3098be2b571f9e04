"""``mairust outbound ...``: the outbound queue on this machine — remote recipients by state
and destination, a message's attempts, and hold / release / retry / bounce / delete."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.options import ConfigOption, DataDirOption
from mairust.cli.plugins import operator_application
from mairust.cli.quarantine import TenantOption
from mairust.cli.quarantine import _principal as operator_or_tenant
from mairust.model.outbound import OutboundSelection, QueueAction, RecipientState

outbound_app = typer.Typer(
    help=(
        "The outbound queue: one row per message and remote recipient. List it, see a "
        "message's delivery attempts, and hold, release, retry now, bounce or delete "
        "recipients that wait (recipients in flight or done are left alone)."
    ),
    no_args_is_help=True,
)
console = Console()

MessageOption = Annotated[
    str | None,
    typer.Option("--message", help='The queue id (the one in "250 ... queued as ID").'),
]
DestinationOption = Annotated[
    str | None, typer.Option("--destination", help="A destination domain (or relay:host:port).")
]
IdsArgument = Annotated[
    list[int] | None, typer.Argument(help="Row ids (the `id` column of `list`).")
]


@outbound_app.command("list")
def outbound_list(
    state: Annotated[
        RecipientState | None, typer.Option(help="Only this state.", case_sensitive=False)
    ] = None,
    destination: DestinationOption = None,
    message: MessageOption = None,
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows.")] = 100,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Outbound recipients, newest first, and (for the whole platform) the count per state
    and the destinations with recipients waiting."""
    principal = operator_or_tenant(tenant)
    with operator_application(data_dir, config) as application:
        rows = application.outbound.rows(principal, state, destination, message, limit)
        counts = application.outbound.counts(principal) if tenant is None else None
    table = Table("id", "state", "attempts", "next attempt", "last reply")
    # Ids and addresses are what people copy: never cut or wrap them.
    table.add_column("message", no_wrap=True, min_width=26)
    table.add_column("recipient", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row.id),
            row.state.value,
            str(row.attempts),
            row.next_attempt_at.isoformat(timespec="seconds"),
            row.last_reply or "",
            row.message.id,
            row.recipient,
        )
    console.print(table)
    if counts is not None:
        console.print("  ".join(f"{s.value}: {n}" for s, n in counts.by_state.items()))
        waiting = sorted(counts.pending_by_destination.items(), key=lambda kv: -kv[1])
        if waiting:
            console.print("waiting: " + ", ".join(f"{d} {n}" for d, n in waiting[:20]))


@outbound_app.command("attempts")
def outbound_attempts(
    message_id: Annotated[str, typer.Argument(help="The message's queue id.")],
    tenant: TenantOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Every delivery attempt at the message's remote recipients, oldest first."""
    principal = operator_or_tenant(tenant)
    with operator_application(data_dir, config) as application:
        attempts = application.outbound.attempts(principal, message_id)
    table = Table("at", "recipient", "result", "host", "reply", "class")
    for attempt in attempts:
        table.add_row(
            attempt.at.isoformat(timespec="seconds"),
            attempt.recipient,
            attempt.result.value,
            " ".join(part for part in (attempt.host, attempt.address) if part),
            attempt.reply,
            attempt.bounce_class or "",
        )
    console.print(table)


def _act(
    action: QueueAction,
    ids: list[int] | None,
    message: str | None,
    destination: str | None,
    tenant: str | None,
    data_dir: DataDirOption,
    config: ConfigOption,
) -> None:
    principal = operator_or_tenant(tenant)
    selection = OutboundSelection(tuple(ids or ()), message, destination)
    with operator_application(data_dir, config) as application:
        changed = application.outbound.act(principal, action, selection)
    for row in changed:
        console.print(f"{action.value}: {row.id} {row.message.id} {row.recipient}")
    console.print(f"{len(changed)} recipient(s)")


def _command(action: QueueAction, doc: str) -> None:
    def command(
        ids: IdsArgument = None,
        message: MessageOption = None,
        destination: DestinationOption = None,
        tenant: TenantOption = None,
        data_dir: DataDirOption = None,
        config: ConfigOption = None,
    ) -> None:
        _act(action, ids, message, destination, tenant, data_dir, config)

    command.__doc__ = doc
    outbound_app.command(action.value)(command)


_command(QueueAction.HOLD, "Hold waiting recipients: never tried until released.")
_command(QueueAction.RELEASE, "Release held recipients: due at once.")
_command(QueueAction.RETRY, "Make waiting (or held) recipients due at once.")
_command(
    QueueAction.BOUNCE,
    "Bounce waiting recipients (no DSN is sent: the attempt and event say the operator did).",
)
_command(QueueAction.DELETE, "Delete waiting recipients and their attempts (nothing is sent).")
