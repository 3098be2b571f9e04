from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord


def test_queue_list_shows_rows_and_counts(tmp_path):
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        info = stores.blobs.put(b"Subject: q\r\n\r\nx\r\n")
        ref = MessageRef(new_id(), info.size, info.sha256, info.key)
        envelope = Envelope(
            "s@remote.example", ("a@example.test", "b@example.test"), datetime.now(UTC)
        )
        stores.metadata.commit_messages([SpoolRecord(ref, envelope)])
    runner = CliRunner()
    result = runner.invoke(
        app, ["queue", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert ref.id in result.output
    assert "a@example.test" in result.output and "b@example.test" in result.output
    assert "queued: 2" in result.output
    filtered = runner.invoke(
        app,
        ["queue", "list", "--state", "done", "--data-dir", str(tmp_path)],
        env={"COLUMNS": "200"},
    )
    assert ref.id not in filtered.output
    bad = runner.invoke(app, ["queue", "list", "--state", "nonsense", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2
