from __future__ import annotations

import os
import subprocess
import sys

from load.soak import Sample, growth_table, main, process_tree, rate_table, rss_by_process


def test_process_tree_and_rss_see_a_child_by_name():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in process_tree(os.getpid())
        sizes = rss_by_process(os.getpid())
        [name] = [name for name in sizes if name.endswith(f"[{child.pid}]")]
        assert name.startswith("python") and sizes[name] > 1
    finally:
        child.kill()
        child.wait()


def _sample(at, rss, accepted=100, latencies=(1.0, 2.0)):
    return Sample(at, rss, accepted, 0, 0, list(latencies))


def test_growth_is_measured_from_the_baseline_sample_per_process():
    samples = [
        _sample(30, {"ray::FrontEndHost[1]": 50.0, "raylet[2]": 30.0}),
        _sample(60, {"ray::FrontEndHost[1]": 100.0, "raylet[2]": 30.0}),
        _sample(90, {"ray::FrontEndHost[1]": 110.0, "raylet[2]": 30.0}),
    ]
    table = growth_table(samples, baseline_index=1)
    assert "| ray::FrontEndHost[1] | 100 | 110 | +10.0 % |" in table
    assert "| raylet[2] | 30 | 30 | +0.0 % |" in table
    assert "| **all** | 130 | 140 | +7.7 % |" in table
    assert table.index("FrontEndHost") < table.index("raylet")  # the grower first


def test_rate_table_gives_the_rate_per_sample():
    table = rate_table(
        [_sample(30, {"a[1]": 1.0}, accepted=3000, latencies=[5.0] * 99 + [50.0])], 30
    )
    assert "| 30 | 100 | 0 | 50.0 | 0 | 1 |" in table


def test_bounds_are_refused_before_anything_starts():
    assert main(["--minutes", "0"]) == 2
    assert main(["--rate", "100000"]) == 2
    assert main(["--sample-seconds", "0.5"]) == 2
