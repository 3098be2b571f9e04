"""Behaviour of the hooks benchmark on a tiny run: `mairust up` with no plugin and with one
no-op http plugin side by side, the plugin called for every message (its own figures say
so), the table with the ratio to the no-plugin rate and the added latency, the bare Serve
call's floor beside the no-plugin target. No timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.bench_hooks import main


def row(table: str, target: str) -> list[str]:
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == target:
            return cells
    raise AssertionError(f"no row for {target} in\n{table}")


@pytest.mark.e2e
def test_a_tiny_run_calls_the_plugin_for_every_message(tmp_path: Path) -> None:
    argv = [
        "--targets", "none,http-1",
        "--messages", "20",
        "--sessions", "2",
        "--repeats", "1",
        "--warmup", "4",
        "--one-session-messages", "6",
        "--floor-seconds", "1",
        "--startup-timeout", "300",
        "--markdown", str(tmp_path / "hooks.md"),
    ]  # fmt: skip
    assert main(argv) == 0
    table = (tmp_path / "hooks.md").read_text()
    assert "`python -m load.bench_hooks --targets none,http-1" in table
    bare = row(table, "mairust up, no plugin")
    one = row(table, "mairust up, 1 no-op http plugin")
    assert bare[2] == "-" and one[2].endswith(("PASS", "MISS"))
    assert one[6] != "-", "the latency one plugin adds at one session"
    # warm-up 4 + 20 measured + 20 at the same sessions + 6 alone: each one plugin call.
    [figures] = [line for line in table.splitlines() if "| noop-http-0 |" in line]
    cells = [cell.strip() for cell in figures.strip("|").split("|")]
    assert cells[2] == "50" and "'answered': 50" in cells[3]
    # The bare Serve call measured beside the no-plugin target, at its accept rate.
    [floor] = [line for line in table.splitlines() if line.startswith("The floor under")]
    assert "ms of CPU a call" in floor and f"at {bare[1].split()[0]} calls/s" in floor


def test_bad_arguments_exit_with_status_2() -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--targets", "nonsense"])
    assert stopped.value.code == 2
