"""How long each test group took, for CI (`--group-times`, which `make test` passes).

The groups: unit (tests/mairust, tests/load, the layering check), ray (tests/actors,
tests/serve, tests/cluster) and e2e (tests/integration). One pytest run serves them all
(its two xdist workers take tests of every group as they come), so each group's time is read from
its tests' reports: wall (first start to last stop; groups overlap) and busy (the sum of
setup, call and teardown). The table is printed at the end and, when $MAIRUST_PHASE_LOG
names a file, added to the phase table `.ci/run` prints. Below it, the test files that were
busiest, so the minutes CI spends can be traced to the scenarios that spend them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

GROUP_OF_FOLDER = {
    "mairust": "unit",
    "load": "unit",
    "test_layering.py": "unit",
    "actors": "ray",
    "serve": "ray",
    "cluster": "ray",
    "integration": "e2e",
}
BUSIEST_FILES_SHOWN = 25


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--group-times",
        action="store_true",
        help="print how long each test group (unit, ray, e2e) took",
    )
    # Read by tests/mairust/api/conftest.py; declared here, where every run loads it.
    parser.addoption(
        "--api-live",
        action="store_true",
        help="run the API tests against a live `mairust up` on PostgreSQL + S3 + OpenSearch "
        "(also MAIRUST_TEST_API_LIVE=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Reports reach the controller from every xdist worker: time them there only.
    if config.getoption("--group-times") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(GroupTimes(), "mairust-group-times")


@dataclass
class Group:
    start: float = float("inf")
    stop: float = 0.0
    busy: float = 0.0
    tests: set[str] = field(default_factory=set)


def group_of(nodeid: str) -> str:
    parts = nodeid.split("::", 1)[0].split("/")
    folder = parts[1] if parts[0] == "tests" and len(parts) > 1 else parts[0]
    return GROUP_OF_FOLDER.get(folder, folder)


class GroupTimes:
    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.busy_by_file: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        group = self.groups.setdefault(group_of(report.nodeid), Group())
        group.start = min(group.start, report.start)
        group.stop = max(group.stop, report.stop)
        group.busy += report.duration
        group.tests.add(report.nodeid)
        self.busy_by_file[report.nodeid.split("::", 1)[0]] += report.duration

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.groups:
            return
        terminalreporter.section("time per test group")
        terminalreporter.write_line(f"{'group':<8} {'tests':>6} {'wall s':>8} {'busy s':>8}")
        log = os.environ.get("MAIRUST_PHASE_LOG")
        for name, group in sorted(self.groups.items(), key=lambda item: item[1].start):
            wall = group.stop - group.start
            terminalreporter.write_line(
                f"{name:<8} {len(group.tests):>6} {wall:>8.1f} {group.busy:>8.1f}"
            )
            if log:
                with open(log, "a", encoding="utf-8") as phases:
                    phases.write(
                        f"pytest group {name}\t{wall:.1f}\t"
                        f"{len(group.tests)} tests, {group.busy:.1f} s busy, inside pytest\n"
                    )
        terminalreporter.section(f"busiest {BUSIEST_FILES_SHOWN} test files")
        busiest = sorted(self.busy_by_file.items(), key=lambda item: -item[1])
        for path, busy in busiest[:BUSIEST_FILES_SHOWN]:
            terminalreporter.write_line(f"{busy:>8.1f} s  {path}")
