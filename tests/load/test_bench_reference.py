"""Behaviour of the reference benchmark command on a tiny run against smtp-sink and Postfix:
one run, every target at every sessions value, ratios from that same run, counts that match,
the table and the plots written where asked. No timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.bench_reference import DEFAULT_TARGETS, main, parse_plan
from load.reference_report import markdown_table, points_from_json


def cells_of(table: str, target: str, sessions: int) -> list[str]:
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == target and cells[2] == str(sessions):
            return cells
    raise AssertionError(f"no row for {target} at {sessions} sessions in\n{table}")


def test_a_tiny_run_measures_every_target_at_every_sessions_value(tmp_path: Path) -> None:
    printed: list[str] = []
    argv = [
        "--targets", "sink,postfix,postfix-relay",
        "--sessions", "2,4",
        "--messages", "20",
        "--repeats", "1",
        "--warmup", "5",
        "--latency-messages", "10",
        "--markdown", str(tmp_path / "reference.md"),
        "--plots", str(tmp_path / "plots"),
        "--json", str(tmp_path / "results.json"),
    ]  # fmt: skip
    assert main(argv, out=printed.append) == 0
    table = (tmp_path / "reference.md").read_text()
    assert table == printed[0], "the file holds what was printed"
    assert table.startswith("`python -m load.bench_reference --targets sink,postfix,")
    assert "load average" in table
    for sessions in (2, 4):
        postfix = cells_of(table, "Postfix durable accept", sessions)
        assert postfix[1] == "smtp-source"
        assert postfix[9:11] == ["1.000", "1.000"], "the baseline against itself"
        # warm-up 5 + 1 run of 20 + latency 10 at 2 sessions; 30 more at 4 sessions
        sent = 35 if sessions == 2 else 65
        assert postfix[11] == f"{sent} / {sent}"
        assert cells_of(table, "smtp-sink (discards)", sessions)[11] == f"{sent} / {sent}"
        relay = cells_of(table, "Postfix relay → smtp-sink", sessions)
        assert relay[11] == f"{sent} / {sent}"
        assert relay[9] != "-" and relay[6] != "-"
    again = points_from_json((tmp_path / "results.json").read_text())
    assert markdown_table(again) in table, "the JSON holds what the table was made of"
    plots = sorted(path.name for path in (tmp_path / "plots").iterdir())
    assert plots == ["reference-latency-cdf.png", "reference-rate-by-sessions.png"]
    assert printed[1:] == [f"plot: {tmp_path / 'plots' / name}" for name in reversed(plots)]


def test_a_target_that_fails_gets_a_row_and_exit_status_1(tmp_path: Path) -> None:
    printed: list[str] = []
    argv = ["--targets", "mairust", "--mairust", str(tmp_path / "no-such-mairust")]
    argv += ["--messages", "5", "--repeats", "1", "--warmup", "0", "--startup-timeout", "5"]
    assert main(argv, out=printed.append) == 1
    assert "not run:" in cells_of(printed[0], "mairust up (embedded, checks off)", 20)[11]


def test_production_adds_its_target_and_defaults_are_the_reference() -> None:
    plan, _ = parse_plan(["--production"])
    assert plan.targets == (*DEFAULT_TARGETS, "mairust-production")
    run = plan.run
    assert (run.messages, run.sessions, run.repeats, run.size) == (3000, (20,), 3, 5120)
    assert run.latency_messages == 3000
    assert run.latency_load is None  # the latency run is closed loop unless asked


def test_latency_at_a_fraction_of_peak_is_a_fraction() -> None:
    plan, _ = parse_plan(["--latency-at", "0.8"])
    assert plan.run.latency_load == 0.8
    for wrong in ("0", "1.5", "-0.2"):
        with pytest.raises(SystemExit):
            parse_plan(["--latency-at", wrong])


@pytest.mark.parametrize(
    "argv", [["--targets", "exim"], ["--sessions", "0"], ["--repeats", "0"], ["--messages", "x"]]
)
def test_bad_arguments_exit_with_status_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_plan(argv)
    assert exited.value.code == 2


def test_help_names_the_smtp_source_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_plan(["--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "/usr/sbin/smtp-source -4 -s 20 -m 3000 -F MESSAGE" in text
    for option in ("--sessions", "--targets", "--markdown", "--plots", "--production"):
        assert option in text
