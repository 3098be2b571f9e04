"""``mairust dmarc report [--send]`` on an embedded data dir against a loopback DNS server:
the period's reports listed, then queued as outbound mail; refused when not configured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.auth.results import AuthResults, DmarcResult, DmarcWord, SpfResult, SpfWord
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.dns_server import ZoneServer

runner = CliRunner()
END = datetime(2026, 11, 29, tzinfo=UTC)


def _run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def _received(store: SqlMetadataStore, word: DmarcWord) -> None:
    results = AuthResults(
        spf=SpfResult(SpfWord.PASS, "mailfrom", "far.test", "192.0.2.1"),
        dmarc=DmarcResult(word, "far.test", "reject", spf_aligned=word is DmarcWord.PASS),
    )
    envelope = Envelope(
        "x@far.test", ("u@ours.test",), END - timedelta(hours=1), client_ip="192.0.2.1"
    )
    ref = MessageRef(new_id(), 1, "0" * 64, "0" * 64)
    store.commit_messages([SpoolRecord(ref, envelope, results.to_json())])


def test_reports_are_listed_then_queued(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(data, "domain", "add", "ours.test")
    store = SqlMetadataStore(f"sqlite:///{data / 'metadata.db'}")
    try:
        _received(store, DmarcWord.PASS)
        _received(store, DmarcWord.FAIL)
    finally:
        store.close()
    zone = {"_dmarc.far.test": {"TXT": ["v=DMARC1; p=reject; rua=mailto:dmarc@far.test"]}}
    with ZoneServer(zone) as dns:
        config = tmp_path / "mairust.toml"
        config.write_text(
            f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 1.0\n'
            '[dmarc_reports]\nenabled = true\norg_name = "mx.ours.test"\n'
            'sender = "dmarc-reports@ours.test"\n'
        )
        when = ["--period-end", END.strftime("%Y-%m-%dT%H:%M:%S"), "--config", str(config)]
        listed = _run(data, "dmarc", "report", *when)
        assert "would send: far.test to dmarc@far.test: 2 messages, 1 passed, 1 failed" in listed
        sent = _run(data, "dmarc", "report", "--send", *when)
        again = _run(data, "dmarc", "report", "--send", *when)
    assert "queued: report for far.test" in sent
    assert "was reported already" in again
    store = SqlMetadataStore(f"sqlite:///{data / 'metadata.db'}")
    try:
        [row] = store.list_outbound()
    finally:
        store.close()
    assert (row.recipient, row.mail_from) == ("dmarc@far.test", "dmarc-reports@ours.test")


def test_not_configured_is_one_error_line(tmp_path: Path) -> None:
    output = _run(tmp_path / "data", "dmarc", "report", "--send", code=1)
    assert "DMARC reports are not enabled (dmarc_reports.enabled" in output
