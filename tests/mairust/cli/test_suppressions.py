"""``mairust suppression ...`` as an operator runs it: add, import a file, list (one tenant
or every one), remove; a bad address or a missing entry is one clear line and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli import suppressions as suppression_commands
from mairust.cli.options import opened_stores
from mairust.config import Settings
from tests.support.stored_entries import tenant_with_mailboxes

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suppression_commands.console, "width", 200)


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_add_import_list_and_remove(tmp_path: Path) -> None:
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        acme, _ = tenant_with_mailboxes(stores.metadata, "acme", "alice")
        other, _ = tenant_with_mailboxes(stores.metadata, "other", "bob")
    listing = tmp_path / "list.csv"
    listing.write_text('# exported\nkim@far.test,2026-01-01\n\n"lee@far.test",x\n')

    assert "added 1, already listed 0" in run(
        tmp_path, "suppression", "add", acme.id, "Joe@Far.test"
    )
    imported = run(
        tmp_path, "suppression", "import", acme.id, str(listing), "--reason", "complaint"
    )
    assert "imported 2: added 2, already 0" in imported
    run(tmp_path, "suppression", "add", other.id, "joe@far.test")

    mine = run(tmp_path, "suppression", "list", "--tenant", acme.id)
    assert "joe@far.test │ manual" in mine and "kim@far.test │ complaint" in mine
    assert other.id not in mine
    assert other.id in run(tmp_path, "suppression", "list")

    assert "removed" in run(tmp_path, "suppression", "remove", acme.id, "joe@far.test")
    missing = run(tmp_path, "suppression", "remove", acme.id, "joe@far.test", code=1)
    assert "not on the suppression list" in missing
    bad = run(tmp_path, "suppression", "add", acme.id, "not an address", code=1)
    assert "not an address" in bad and "Traceback" not in bad
