from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.mailbox import NewEntry
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.scope import PLATFORM


def test_reindex_rebuilds_search_with_progress(tmp_path):
    settings = Settings(data_dir=tmp_path)
    with opened_stores(settings) as stores:
        tenant = stores.metadata.create_tenant("t")
        stores.metadata.add_domain("example.test", tenant.id)
        box = stores.metadata.add_mailbox("a@example.test")
        for n in range(3):
            info = stores.blobs.put(f"Subject: wombat {n}\r\n\r\nburrow\r\n".encode())
            ref = MessageRef(new_id(), info.size, info.sha256, info.key)
            stores.metadata.commit_messages(
                [SpoolRecord(ref, Envelope("s@r.example", (box.address,), datetime.now(UTC)))]
            )
            stores.metadata.store_entry(
                NewEntry(tenant.id, box.id, ref.id, f"wombat {n}", "s@r.example", (), None, 1)
            )
        assert stores.search.search(PLATFORM, "burrow") == []  # never indexed
    result = CliRunner().invoke(app, ["search", "reindex", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "indexed 3 entries" in result.output
    with opened_stores(settings) as stores:
        assert len(stores.search.search(PLATFORM, "burrow")) == 3


def test_reindex_help_explains_itself():
    result = CliRunner().invoke(app, ["search", "reindex", "--help"])
    assert result.exit_code == 0
    assert "Rebuild the search index" in result.output
