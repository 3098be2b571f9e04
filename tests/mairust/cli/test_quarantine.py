"""``mairust quarantine ...`` as an operator runs it: list held mail (every tenant, one
tenant, one mailbox), release it (to its folder, with the release in the event log) and
delete it; an id that is not held is one clear line and exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli import quarantine as quarantine_commands
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.errors import NotFound
from mairust.events import RecordType
from mairust.model.folders import QUARANTINE
from mairust.model.scope import PLATFORM, TenantScope
from tests.support.stored_entries import deliver, tenant_with_mailboxes

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's console was sized when it was imported (by the terminal of the test
    run, 80 columns in CI): give the table room, as COLUMNS=200 does for a fresh one."""
    monkeypatch.setattr(quarantine_commands.console, "width", 200)


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # as a line, however the terminal wrapped it


def test_list_release_and_delete_from_the_command_line(tmp_path: Path) -> None:
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        acme, [alice, amos] = tenant_with_mailboxes(stores.metadata, "acme", "alice", "amos")
        _, [bob] = tenant_with_mailboxes(stores.metadata, "other", "bob")
        for_alice = deliver(stores.metadata, alice, folder=QUARANTINE, subject="alice held")
        for_amos = deliver(stores.metadata, amos, folder=QUARANTINE, subject="amos held")
        for_bob = deliver(stores.metadata, bob, folder=QUARANTINE, subject="bob held")
        ordinary = deliver(stores.metadata, alice, subject="not held")

    every = run(tmp_path, "quarantine", "list")
    assert all(e.id in every for e in (for_alice, for_amos, for_bob))
    assert ordinary.id not in every and "release to" in every
    one_tenant = run(tmp_path, "quarantine", "list", "--tenant", acme.id)
    assert for_alice.id in one_tenant and for_amos.id in one_tenant
    assert for_bob.id not in one_tenant
    one_mailbox = run(tmp_path, "quarantine", "list", "--mailbox", alice.address)
    assert for_alice.id in one_mailbox and for_amos.id not in one_mailbox

    released = run(tmp_path, "quarantine", "release", for_alice.id)
    assert f"released {for_alice.id} to {alice.address} INBOX" in released
    # Within one tenant, another tenant's held mail does not exist.
    refused = run(tmp_path, "quarantine", "delete", "--tenant", acme.id, for_bob.id, code=1)
    assert "no such entry" in refused
    assert f"deleted {for_amos.id}" in run(tmp_path, "quarantine", "delete", for_amos.id)
    not_held = run(tmp_path, "quarantine", "release", ordinary.id, code=1)
    assert "not in Quarantine" in not_held

    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        assert stores.metadata.get_entry(PLATFORM, for_alice.id).folder == "INBOX"
        assert stores.metadata.get_entry(PLATFORM, for_bob.id).folder == QUARANTINE
        with pytest.raises(NotFound):
            stores.metadata.get_entry(PLATFORM, for_amos.id)
        [event] = stores.metadata.list_events(
            TenantScope(acme.id), kinds=[RecordType.QUARANTINE_RELEASED]
        )
        assert event.detail is not None and event.detail["entry_id"] == for_alice.id


def test_the_help_explains_each_command(tmp_path: Path) -> None:
    result = runner.invoke(app, ["quarantine", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "quarantine.released" in text
    for command in ("list", "release", "delete"):
        assert command in text
