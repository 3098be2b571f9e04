"""``mairust tls-reports report [--send]`` on an embedded data dir against a loopback DNS
server: a day's counts listed by domain, its report queued once, the listing then saying
where it went; refused when not configured."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.model.tls_reports import TlsResultCount, TlsResultKey
from mairust.storage.sql_metadata import SqlMetadataStore
from tests.support.dns_server import ZoneServer

runner = CliRunner()
DAY = date(2026, 11, 29)


def _run(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return result.output


def test_a_days_results_are_listed_then_reported_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(data, "domain", "add", "ours.test")
    store = SqlMetadataStore(f"sqlite:///{data / 'metadata.db'}")
    try:
        store.add_tls_results(
            [
                TlsResultCount(TlsResultKey(DAY, "far.test", "sts"), 5),
                TlsResultCount(
                    TlsResultKey(DAY, "far.test", "sts", result_type="starttls-not-supported"), 2
                ),
                TlsResultCount(TlsResultKey(DAY, "quiet.test", "no-policy-found"), 1),
            ]
        )
    finally:
        store.close()
    zone = {"_smtp._tls.far.test": {"TXT": ["v=TLSRPTv1; rua=mailto:tls@far.test"]}}
    with ZoneServer(zone) as dns:
        config = tmp_path / "mairust.toml"
        config.write_text(
            f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns.port}\ntimeout = 1.0\n'
            '[tls_reports]\nenabled = true\norg_name = "mx.ours.test"\n'
            'sender = "tlsrpt@ours.test"\n'
        )
        when = ["--day", "2026-11-29", "--config", str(config)]
        listed = _run(data, "tls-reports", "report", *when)
        assert "2026-11-29: far.test: 5 over TLS, 2 failed\n" in listed
        assert "2026-11-29: quiet.test: 1 over TLS, 0 failed\n" in listed
        sent = _run(data, "tls-reports", "report", "--send", *when)
        again = _run(data, "tls-reports", "report", "--send", *when)
        after = _run(data, "tls-reports", "report", *when)
    assert "sent: report for far.test to mailto:tls@far.test" in sent
    assert "no report: quiet.test (no TLSRPT record)" in sent
    assert again.strip() == ""
    assert "far.test: 5 over TLS, 2 failed; reported to mailto:tls@far.test" in after
    assert "quiet.test: 1 over TLS, 0 failed; reported to nobody" in after
    store = SqlMetadataStore(f"sqlite:///{data / 'metadata.db'}")
    try:
        [row] = store.list_outbound()
    finally:
        store.close()
    assert (row.recipient, row.mail_from) == ("tls@far.test", "tlsrpt@ours.test")


def test_not_configured_is_one_error_line(tmp_path: Path) -> None:
    output = _run(tmp_path / "data", "tls-reports", "report", "--send", code=1)
    assert "TLS reports are not enabled (tls_reports.enabled" in output
