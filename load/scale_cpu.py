"""The scale-out benchmark's arithmetic: which MaiRust component a process belongs to, CPU
seconds per component between two /proc samples, CPU seconds per 1,000 messages, the
2-node ÷ 1-node ratio against its target, and the Markdown table and JSON of a run.

Nothing here starts a process; ``load.bench_scale`` runs the configurations.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from load.processes import CLOCK_TICKS, process_name

TARGET_RATIO = 1.1
CLIENT = "load client"
# Components in the table's order; a process goes to the first whose prefix its title has.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("front-ends", ("ray::FrontEndHost",)),
    ("pipeline workers", ("ray::PipelineWorker",)),
    ("dispatcher", ("ray::DispatcherHost",)),
    ("indexer", ("ray::IndexerHost",)),
    ("API/Serve", ("ray::ServeReplica", "ray::ServeController", "ray::ProxyActor")),
    ("other actors", ("ray::DeliveryHost", "ray::WebhookHost", "ray::AuthCheckerHost")),
    ("cluster up driver", ("mairust",)),
    (CLIENT, ("smtp-source",)),
)
RAY_OVERHEAD = "Ray overhead"  # raylets, GCS, dashboard agents, idle workers, Serve's others
ORDER = (*(name for name, _ in COMPONENTS), RAY_OVERHEAD)

Sample = dict[int, tuple[str, float]]  # pid -> (process name, CPU seconds so far)


def plural(count: int) -> str:
    return "" if count == 1 else "s"


def component_of(name: str) -> str:
    """The component of a process, by its name as ``load.processes.process_name`` gives it."""
    for component, prefixes in COMPONENTS:
        if any(name == p or name.startswith((p + ".", p + ":")) for p in prefixes):
            return component
    return RAY_OVERHEAD


def parse_stat(text: str) -> tuple[int, int, float]:
    """(ppid, session id, CPU seconds) from the text of /proc/PID/stat."""
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """Every pid below ``root`` in the process tree (``parents``: pid -> ppid)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def tree_cpu(root: int, marker: str = "", proc: Path = Path("/proc")) -> Sample:
    """Every process below ``root`` (this benchmark: its Ray cluster, ``mairust cluster up``,
    the clients), and any process whose command line holds ``marker`` (a Ray process that
    left the tree, found by the session directory in its arguments)."""
    parents: dict[int, int] = {}
    seen: dict[int, tuple[str, float, bool]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid, _, seconds = parse_stat((entry / "stat").read_text())
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        pid = int(entry.name)
        parents[pid] = ppid
        marked = bool(marker) and marker.encode() in command
        seen[pid] = (process_name(command.split(b"\0")), seconds, marked)
    below = descendants(parents, root)
    return {
        pid: (name, seconds)
        for pid, (name, seconds, marked) in seen.items()
        if pid in below or marked
    }


def cpu_by_title(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds each process title used between the samples (a process that started in
    between counts from 0; one that ended in between is lost: its last ticks are unknown)."""
    used: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        start = before.get(pid, (name, 0.0))[1]
        title = name.split(".")[0] if name.startswith("ray::") else name  # drop the method
        used[title] = used.get(title, 0.0) + max(0.0, seconds - start)
    return used


def cpu_by_component(before: Sample, after: Sample) -> dict[str, float]:
    """CPU seconds each component used between the samples (see :func:`cpu_by_title`)."""
    used: dict[str, float] = {}
    for title, seconds in cpu_by_title(before, after).items():
        used[component_of(title)] = used.get(component_of(title), 0.0) + seconds
    return used


@dataclass
class ConfigResult:
    """One configuration: front-end nodes x pipeline workers, over its measured repeats."""

    nodes: int
    workers: int
    messages: int = 0  # accepted in the measured repeats, all together
    rates: list[float] = field(default_factory=list)  # accepted msg/s of each repeat
    cpu: dict[str, float] = field(default_factory=dict)  # CPU s per component, all repeats
    titles: dict[str, float] = field(default_factory=dict)  # CPU s per process title, the same
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.nodes} node{plural(self.nodes)}, {self.workers} worker{plural(self.workers)}"

    def add(
        self,
        accepted: int,
        seconds: float,
        cpu: Mapping[str, float],
        titles: Mapping[str, float] | None = None,
    ) -> None:
        self.messages += accepted
        self.rates.append(accepted / seconds if seconds > 0 else 0.0)
        for component, used in cpu.items():
            self.cpu[component] = self.cpu.get(component, 0.0) + used
        for title, used in (titles or {}).items():
            self.titles[title] = self.titles.get(title, 0.0) + used

    @property
    def rate(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    def per_thousand(self) -> dict[str, float]:
        """CPU seconds per 1,000 accepted messages, per component (the load client too)."""
        if self.messages == 0:
            return {}
        return {c: 1000 * s / self.messages for c, s in self.cpu.items()}

    @property
    def platform_per_thousand(self) -> float | None:
        """All of MaiRust's and Ray's CPU per 1,000 messages; the load client left out."""
        shares = self.per_thousand()
        return sum(v for c, v in shares.items() if c != CLIENT) if shares else None


def pooled(rounds: Iterable[Iterable[ConfigResult]]) -> list[ConfigResult]:
    """Each configuration over every round: its messages, repeat rates, CPU and titles put
    together (so the CPU per message is the total CPU over the total messages); the first
    problem a configuration met, if any. In the order configurations first appear."""
    merged: dict[tuple[int, int], ConfigResult] = {}
    for results in rounds:
        for result in results:
            into = merged.setdefault(
                (result.nodes, result.workers), ConfigResult(result.nodes, result.workers)
            )
            into.messages += result.messages
            into.rates.extend(result.rates)
            for component, used in result.cpu.items():
                into.cpu[component] = into.cpu.get(component, 0.0) + used
            for title, used in result.titles.items():
                into.titles[title] = into.titles.get(title, 0.0) + used
            into.problem = into.problem or result.problem
    return list(merged.values())


def ratios(results: Iterable[ConfigResult]) -> dict[int, float | None]:
    """pipeline workers -> 2-node CPU per message ÷ 1-node CPU per message."""
    by_key = {(r.nodes, r.workers): r.platform_per_thousand for r in results}
    found: dict[int, float | None] = {}
    for workers in sorted({w for _, w in by_key}):
        one, two = by_key.get((1, workers)), by_key.get((2, workers))
        found[workers] = two / one if one and two is not None else None
    return found


def ratio_lines(results: list[ConfigResult]) -> list[str]:
    lines = []
    for workers, value in ratios(results).items():
        if value is None:
            lines.append(
                f"{workers} worker{plural(workers)}: 2-node ÷ 1-node CPU/msg: not measured"
            )
            continue
        verdict = "PASS" if value <= TARGET_RATIO else "MISS"
        lines.append(
            f"{workers} worker{plural(workers)}: 2-node ÷ 1-node CPU/msg = {value:.2f} "
            f"(target ≤ {TARGET_RATIO}): {verdict}"
        )
    return lines


def markdown(results: list[ConfigResult], postfix_rate: float | None, note: str) -> str:
    """One row per configuration: msg/s, its ratio to Postfix, CPU-s/1,000 msg per component."""
    head = ["configuration", "accepted msg/s", "vs Postfix", *ORDER, "MaiRust + Ray"]
    rows = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    if postfix_rate is not None:
        cells = ["Postfix durable accept", f"{postfix_rate:.0f}", "1.00", *[""] * len(ORDER), ""]
        rows.append("| " + " | ".join(cells) + " |")
    for result in results:
        if result.problem is not None or result.rate is None:
            cells = [result.label, f"failed: {result.problem}", *[""] * (len(head) - 2)]
            rows.append("| " + " | ".join(cells) + " |")
            continue
        shares = result.per_thousand()
        versus = f"{result.rate / postfix_rate:.2f}" if postfix_rate else ""
        total = result.platform_per_thousand or 0.0
        cells = [
            result.label,
            f"{result.rate:.0f}",
            versus,
            *[f"{shares.get(c, 0.0):.2f}" for c in ORDER],
            f"{total:.2f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    foot = ["", "CPU columns: CPU seconds per 1,000 accepted messages.", note, ""]
    return "\n".join([*rows, *foot, *(f"- {line}" for line in ratio_lines(results)), ""])


def to_json(
    results: list[ConfigResult], postfix_rate: float | None, meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        **meta,
        "postfix_durable_msg_per_s": postfix_rate,
        "target_ratio": TARGET_RATIO,
        "ratios_2_over_1_node": {str(w): v for w, v in ratios(results).items()},
        "configurations": [
            {
                **asdict(r),
                "msg_per_s": r.rate,
                "cpu_s_per_1000": r.per_thousand(),
                "platform_cpu_s_per_1000": r.platform_per_thousand,
            }
            for r in results
        ],
        "load_average": os.getloadavg()[0],
    }
