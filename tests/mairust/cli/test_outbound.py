"""``mairust outbound ...`` as an operator runs it: the queue listed with its counts, a
message's attempts, and hold / release / retry / bounce / delete; a selection that matches
no waiting recipient is one clear line and exit code 1."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli import outbound as outbound_commands
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RecipientState, RemoteRecipient

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound_commands.console, "width", 200)


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def queued(data_dir: Path, *recipients: str) -> str:
    """A message from ann@a.example for remote ``recipients`` (no tenant), committed."""
    body = b"Subject: out\r\n\r\nhi\r\n"
    ref = MessageRef(new_id(), len(body), "0" * 64, new_id())
    envelope = Envelope("ann@a.example", recipients, datetime.now(UTC))
    record = SpoolRecord(ref, envelope, remote=tuple(RemoteRecipient(r) for r in recipients))
    with opened_stores(Settings(data_dir=data_dir)) as stores:
        stores.metadata.commit_messages([replace(record)])
    return ref.id


def test_list_hold_release_bounce_and_delete_from_the_command_line(tmp_path: Path) -> None:
    first = queued(tmp_path, "joe@far.test", "kim@far.test")
    second = queued(tmp_path, "lee@near.test")

    listed = run(tmp_path, "outbound", "list")
    assert first in listed and second in listed and "joe@far.test" in listed
    assert "scheduled: 3" in listed and "waiting: far.test 2, near.test 1" in listed

    held = run(tmp_path, "outbound", "hold", "--destination", "far.test")
    assert "hold:" in held and "2 recipient(s)" in held
    assert "held: 2" in run(tmp_path, "outbound", "list")
    assert "1 recipient(s)" in run(tmp_path, "outbound", "retry", "--message", second)
    assert "2 recipient(s)" in run(tmp_path, "outbound", "release", "--message", first)

    bounced = run(tmp_path, "outbound", "bounce", "--message", second)
    assert "bounce:" in bounced
    attempts = run(tmp_path, "outbound", "attempts", second)
    assert "lee@near.test │ bounced" in attempts
    assert "550 5.0.0 Bounced by the operator" in attempts

    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        [joe] = [r for r in stores.metadata.list_outbound() if r.recipient == "joe@far.test"]
    assert "1 recipient(s)" in run(tmp_path, "outbound", "delete", str(joe.id))
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        states = {r.recipient: r.state for r in stores.metadata.list_outbound()}
    assert states == {
        "kim@far.test": RecipientState.SCHEDULED,
        "lee@near.test": RecipientState.BOUNCED,
    }


def test_a_selection_matching_nothing_waiting_is_one_line_and_exit_1(tmp_path: Path) -> None:
    message = queued(tmp_path, "joe@far.test")
    run(tmp_path, "outbound", "bounce", "--message", message)
    refused = run(tmp_path, "outbound", "retry", "--message", message, code=1)
    assert "no waiting outbound recipient matches" in refused
    assert "Traceback" not in refused
    empty = run(tmp_path, "outbound", "hold", code=1)
    assert "name the recipients" in empty
