"""Behaviour of the API benchmark on a tiny embedded run: every operation measured beside
hello in the closed loop, hello, list and read in the open loop, no request failed, and the
command in the report. No timings."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from load.bench_api import main

OPERATIONS = (
    "hello (bare Serve)",
    "hello (FastAPI on Serve)",
    "healthz (MaiRust app, no auth)",
    "list messages (page of 50)",
    "read message",
    "search",
    "GraphQL messages (50)",
)


def rows(report: str, name: str) -> list[list[str]]:
    found = []
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0] == name:
            found.append(cells)
    return found


@pytest.mark.e2e
def test_a_tiny_run_measures_every_operation_beside_hello(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAIRUST_ADMIN_TOKEN", raising=False)
    handler_before = signal.getsignal(signal.SIGTERM)
    argv = [
        "--passes", "embedded",
        "--messages", "100",
        "--clients", "4",
        "--seconds", "0.5",
        "--warmup", "0.2",
        "--rate", "5",
        "--open-seconds", "1",
        "--markdown", str(tmp_path / "api.md"),
    ]  # fmt: skip
    assert main(argv) == 0
    # The run's admin token and SIGTERM handler are put back: a later `mairust up` in this
    # pytest worker must write its own token file (it waited for one for 300 s when not).
    assert "MAIRUST_ADMIN_TOKEN" not in os.environ
    assert signal.getsignal(signal.SIGTERM) is handler_before
    report = (tmp_path / "api.md").read_text()
    assert "`python -m load.bench_api --passes embedded" in report
    for name in OPERATIONS:
        closed = rows(report, name)[0]
        assert int(closed[2]) > 0 and closed[8] == "0", closed  # requests, errors
    # The open loop: hello first, then list and read, each request answered.
    for name in OPERATIONS[0], OPERATIONS[3], OPERATIONS[4]:
        opened = rows(report, name)[1]
        assert (opened[1], opened[2], opened[7]) == ("5", "5", "0"), opened
