from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.scope import PLATFORM
from tests.support.stored_entries import deliver, tenant_with_mailboxes


def test_mailbox_expire_purges_old_junk_and_reports_progress(tmp_path):
    old = datetime.now(UTC) - timedelta(days=40)
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        _, [box] = tenant_with_mailboxes(stores.metadata, "acme", "alice")
        expired = deliver(stores.metadata, box, folder="Junk", received_at=old)
        kept = deliver(stores.metadata, box, folder="Junk")
        inbox = deliver(stores.metadata, box, received_at=old)
    result = CliRunner().invoke(
        app,
        ["mailbox", "expire", "--data-dir", str(tmp_path)],
        env={"COLUMNS": "200", "MAIRUST_MAILBOX__JUNK_DAYS": "30"},
    )
    assert result.exit_code == 0, result.output
    assert "Junk after 30 days" in result.output
    assert "Junk: 1 purged so far" in result.output
    assert "purged 0 from Trash and 1 from Junk" in result.output
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        left = stores.metadata.get_entries(PLATFORM, [expired.id, kept.id, inbox.id])
    assert [entry.id for entry in left] == [kept.id, inbox.id]
