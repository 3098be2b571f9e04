"""The scale-out benchmark's arithmetic on a recorded /proc sample: processes to components,
CPU per component between two samples, CPU per 1,000 messages, the 2-node ÷ 1-node ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.processes import CLOCK_TICKS
from load.scale_cpu import (
    CLIENT,
    RAY_OVERHEAD,
    ConfigResult,
    component_of,
    cpu_by_component,
    cpu_by_title,
    markdown,
    parse_stat,
    pooled,
    ratio_lines,
    ratios,
    tree_cpu,
)


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("ray::FrontEndHost", "front-ends"),
        ("ray::FrontEndHost.accept_loop", "front-ends"),
        ("ray::PipelineWorker.run", "pipeline workers"),
        ("ray::DispatcherHost", "dispatcher"),
        ("ray::IndexerHost", "indexer"),
        ("ray::ServeReplica:mairust:ApiIngress", "API/Serve"),
        ("ray::ServeController", "API/Serve"),
        ("ray::ProxyActor", "API/Serve"),
        ("mairust", "cluster up driver"),
        ("smtp-source", CLIENT),
        ("raylet", RAY_OVERHEAD),
        ("gcs_server", RAY_OVERHEAD),
        ("ray::IDLE", RAY_OVERHEAD),
        ("dashboard/agent.py", RAY_OVERHEAD),
        ("ray::FrontEndHostile", RAY_OVERHEAD),  # a prefix must end at a name boundary
    ],
)
def test_component_of_process_title(name: str, component: str) -> None:
    assert component_of(name) == component


def stat_line(pid: int, ppid: int, utime: int, stime: int, comm: str = "x (y) z") -> str:
    # /proc/PID/stat: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
    # majflt cmajflt utime stime ...; comm may hold spaces and parentheses.
    rest = ["S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0, utime, stime, 0, 0, 20, 0]
    return f"{pid} ({comm}) " + " ".join(map(str, rest)) + "\n"


def write_proc(root: Path, processes: dict[int, tuple[int, bytes, int, int]]) -> None:
    """pid -> (ppid, cmdline, utime ticks, stime ticks) as files under ``root``."""
    for pid, (ppid, cmdline, utime, stime) in processes.items():
        (root / str(pid)).mkdir(exist_ok=True)
        (root / str(pid) / "stat").write_text(stat_line(pid, ppid, utime, stime))
        (root / str(pid) / "cmdline").write_bytes(cmdline)
    (root / "self").mkdir(exist_ok=True)  # not a pid: skipped


def test_parse_stat_reads_ppid_session_and_cpu() -> None:
    assert parse_stat(stat_line(7, 3, 2 * CLOCK_TICKS, CLOCK_TICKS)) == (3, 1, 3.0)


def test_tree_sample_and_cpu_per_component(tmp_path: Path) -> None:
    t = CLOCK_TICKS
    before = {
        100: (1, b"python\0-m\0load.bench_scale\0", 5 * t, 0),  # the benchmark itself
        200: (100, b"/venv/bin/raylet\0--session=/tmp/mr-bs-1\0", 1 * t, 0),
        201: (200, b"ray::FrontEndHost\0", 2 * t, 1 * t),
        202: (200, b"ray::PipelineWorker\0", 0, 0),
        300: (1, b"/venv/bin/gcs_server\0--dir=/tmp/mr-bs-1\0", 1 * t, 0),  # left the tree
        400: (1, b"/usr/sbin/sshd\0", 9 * t, 0),  # neither below nor marked
    }
    write_proc(tmp_path, before)
    first = tree_cpu(100, "/tmp/mr-bs-1", proc=tmp_path)
    assert set(first) == {200, 201, 202, 300}
    assert first[201] == ("ray::FrontEndHost", 3.0)

    after = dict(before)
    after[200] = (100, before[200][1], 2 * t, 0)  # raylet +1 s
    after[201] = (200, b"ray::FrontEndHost.handle\0", 4 * t, 2 * t)  # +3 s, title changed
    after[202] = (200, b"ray::PipelineWorker\0", 3 * t, t)  # +4 s
    after[300] = (1, before[300][1], 3 * t, 0)  # GCS +2 s
    after[500] = (100, b"/usr/sbin/smtp-source\0-s\0020\0", 1 * t, 0)  # new: counts from 0
    write_proc(tmp_path, after)
    second = tree_cpu(100, "/tmp/mr-bs-1", proc=tmp_path)
    used = cpu_by_component(first, second)
    assert used == {"front-ends": 3.0, "pipeline workers": 4.0, RAY_OVERHEAD: 3.0, CLIENT: 1.0}
    titles = cpu_by_title(first, second)
    assert titles["ray::FrontEndHost"] == 3.0  # the method the title named is dropped
    assert titles["raylet"] == 1.0 and titles["gcs_server"] == 2.0

    result = ConfigResult(nodes=1, workers=2)
    result.add(accepted=500, seconds=2.0, cpu=used, titles=titles)
    result.add(accepted=500, seconds=4.0, cpu=used)
    assert result.titles["raylet"] == 1.0
    assert result.rates == [250.0, 125.0]
    assert result.per_thousand()["pipeline workers"] == 8.0  # 8 s over 1,000 messages
    assert result.platform_per_thousand == 20.0  # the load client's 2 s left out


def config(nodes: int, workers: int, platform_cpu: float) -> ConfigResult:
    result = ConfigResult(nodes, workers)
    result.add(1000, 10.0, {"front-ends": platform_cpu, CLIENT: 99.0})
    return result


def test_ratio_of_two_nodes_to_one_against_the_target() -> None:
    results = [config(1, 1, 10.0), config(2, 1, 10.5), config(1, 2, 10.0), config(2, 2, 12.0)]
    results.append(config(1, 4, 10.0))
    assert ratios(results) == {1: pytest.approx(1.05), 2: pytest.approx(1.2), 4: None}
    lines = ratio_lines(results)
    assert lines[0].endswith("= 1.05 (target ≤ 1.1): PASS")
    assert lines[1].endswith("= 1.20 (target ≤ 1.1): MISS")
    assert lines[2].endswith("not measured")
    failed = ConfigResult(2, 4, problem="no greeting")
    table = markdown([*results, failed], postfix_rate=500.0, note="note")
    assert "| Postfix durable accept | 500 | 1.00 |" in table
    assert "| 1 node, 1 worker | 100 | 0.20 | 10.00 |" in table
    assert "| 2 nodes, 4 workers | failed: no greeting |" in table


def test_rounds_pool_into_one_result_per_configuration() -> None:
    first = [config(1, 1, 10.0), config(2, 1, 12.0)]
    second = [config(1, 1, 14.0), config(2, 1, 13.0), ConfigResult(1, 2, problem="no greeting")]
    one, two, failed = pooled([first, second])
    assert (one.nodes, one.workers, one.messages, one.rates) == (1, 1, 2000, [100.0, 100.0])
    assert one.platform_per_thousand == 12.0  # 24 s over 2,000 messages, not a mean of ratios
    assert two.platform_per_thousand == 12.5
    assert ratios([one, two])[1] == pytest.approx(12.5 / 12.0)
    assert failed.problem == "no greeting" and failed.messages == 0
