"""The merged report of a distributed load run: what each generator returns, how the parts
merge into one run, the check that the merged counts equal the sum of the parts, and the text,
JSON and plots of the result. No Ray and no I/O besides writing the plots.

Percentiles are computed from the merged latencies (every accepted message's), never averaged
over generators: the median of two medians is not the median of the run. The rate is accepted
messages over the union of the generators' windows, from the earliest start to the latest end
(wall clocks of several nodes: as good as their clock sync, which is milliseconds with NTP).

The merged outcome counts are read from the merged reply codes, the parts' own counts are
summed, and the check compares the two: a code lost or counted twice in the merge shows there.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from load.api_stats import percentile
from load.smtp_load import LoadResult

__all__ = ["ACCEPTED", "GeneratorResult", "MergedReport", "merge", "report_json", "write_plots"]

# Reply-code key of accepted messages: the load generator counts them, not their exact code.
ACCEPTED = "2xx"
_OUTCOMES = ("accepted", "tempfailed", "rejected", "errors")
_PERCENTS = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0))


@dataclass(frozen=True)
class GeneratorResult:
    """One generator's part: its share of the messages, counts, raw latencies (ms, sorted) and
    its window in wall-clock seconds (``time.time()`` on its node)."""

    index: int
    node: str
    target: str
    first_message: int
    messages: int
    started_at: float
    ended_at: float
    accepted: int
    tempfailed: int
    rejected: int
    errors: int
    cut: int
    not_sent: int
    replies: dict[str, int]
    latencies_ms: list[float] = field(repr=False)

    @classmethod
    def of(
        cls,
        result: LoadResult,
        *,
        index: int,
        node: str,
        first_message: int,
        started_at: float,
        ended_at: float,
    ) -> GeneratorResult:
        config = result.config
        replies = dict(result.failures)
        if result.accepted:
            replies[ACCEPTED] = result.accepted
        return cls(
            index=index,
            node=node,
            target=f"{config.host}:{config.port}",
            first_message=first_message,
            messages=config.messages,
            started_at=started_at,
            ended_at=ended_at,
            accepted=result.accepted,
            tempfailed=result.tempfailed,
            rejected=result.rejected,
            errors=result.errors,
            cut=result.aborted_at_deadline,
            not_sent=result.not_attempted,
            replies=replies,
            latencies_ms=list(result.latencies_ms),
        )

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    def latency(self, percent: float) -> float | None:
        return percentile(self.latencies_ms, percent)


def _outcomes_of(replies: Counter[str]) -> dict[str, int]:
    """Outcome counts as ``load.smtp_load`` defines them, read from reply-code keys."""
    counts = dict.fromkeys(_OUTCOMES, 0)
    for key, count in replies.items():
        if key == ACCEPTED:
            counts["accepted"] += count
        elif key[:1] == "4" and key.isdigit():
            counts["tempfailed"] += count
        elif key[:1] == "5" and key.isdigit():
            counts["rejected"] += count
        else:  # "error: ..." and codes outside 4xx/5xx, as smtp_load counts them
            counts["errors"] += count
    return counts


@dataclass(frozen=True)
class MergedReport:
    """The run as one: counts from the merged reply codes, percentiles from merged latencies."""

    messages: int
    generators: list[GeneratorResult]
    replies: dict[str, int]
    outcomes: dict[str, int]
    cut: int
    not_sent: int
    latencies_ms: list[float] = field(repr=False)
    started_at: float
    ended_at: float

    @property
    def accepted(self) -> int:
        return self.outcomes["accepted"]

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    @property
    def nodes(self) -> list[str]:
        return sorted({part.node for part in self.generators})

    def latency(self, percent: float) -> float | None:
        return percentile(self.latencies_ms, percent)

    def check(self) -> list[str]:
        """Every way the merged counts differ from the sum of the parts; empty when none."""
        problems = []
        parts = self.generators
        for name in _OUTCOMES:
            summed = sum(getattr(part, name) for part in parts)
            if self.outcomes[name] != summed:
                problems.append(f"{name}: merged {self.outcomes[name]} != sum of parts {summed}")
        if len(self.latencies_ms) != self.accepted:
            problems.append(f"{len(self.latencies_ms)} latencies for {self.accepted} accepted")
        shared = sum(part.messages for part in parts)
        if shared != self.messages:
            problems.append(f"shares add up to {shared}, not {self.messages}")
        for part in parts:
            accounted = sum(getattr(part, name) for name in _OUTCOMES) + part.cut + part.not_sent
            if accounted != part.messages:
                problems.append(f"generator {part.index}: {accounted} outcomes for {part.messages}")
        total = sum(self.outcomes.values()) + self.cut + self.not_sent
        if total != self.messages:
            problems.append(f"{total} outcomes for {self.messages} messages")
        return problems

    def as_json(self) -> dict[str, object]:
        latency = {name: self.latency(pct) for name, pct in _PERCENTS}
        return {
            "messages": self.messages,
            "generators": [asdict(part) for part in self.generators],
            "nodes": self.nodes,
            "replies": self.replies,
            **self.outcomes,
            "cut": self.cut,
            "not_sent": self.not_sent,
            "window_seconds": round(self.seconds, 6),
            "accepted_per_second": round(self.rate, 1),
            **{f"latency_{name}_ms": value for name, value in latency.items()},
            "check": self.check(),
        }

    def summary(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}"

        header = (
            f"{'gen':>3}  {'node':<22} {'target':<21} {'messages':>8} {'accepted':>8} "
            f"{'4xx':>5} {'5xx':>5} {'errors':>6} {'cut':>4} {'unsent':>6} {'window s':>8} "
            f"{'msg/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        )
        rows = [
            f"{p.index:>3}  {p.node[:22]:<22} {p.target[:21]:<21} {p.messages:>8} "
            f"{p.accepted:>8} {p.tempfailed:>5} {p.rejected:>5} {p.errors:>6} {p.cut:>4} "
            f"{p.not_sent:>6} {p.seconds:>8.3f} {p.rate:>8.1f} {ms(p.latency(50)):>7} "
            f"{ms(p.latency(99)):>7}"
            for p in self.generators
        ]
        sums = " + ".join(str(p.accepted) for p in self.generators)
        problems = self.check()
        verdict = "OK" if not problems else "MISMATCH: " + "; ".join(problems)
        replies = ", ".join(f"{k} x{v}" for k, v in sorted(self.replies.items())) or "none"
        percentiles = "  ".join(f"{name} {ms(self.latency(pct))}" for name, pct in _PERCENTS)
        return "\n".join(
            [
                header,
                *rows,
                "",
                f"generators     {len(self.generators)} on {len(self.nodes)} node(s)",
                f"accepted       {self.accepted} of {self.messages} messages ({sums})",
                f"not accepted   {self.outcomes['tempfailed']} temp-failed (4xx), "
                f"{self.outcomes['rejected']} rejected (5xx), {self.outcomes['errors']} errors, "
                f"{self.cut} cut by deadline, {self.not_sent} not sent",
                f"window         {self.seconds:.3f} s (earliest start to latest end)",
                f"accept rate    {self.rate:.1f} msg/s",
                f"latency ms     {percentiles} (over {len(self.latencies_ms)} merged latencies)",
                f"reply codes    {replies}",
                f"counts check   {verdict} (merged == sum of parts)",
            ]
        )


def merge(parts: Sequence[GeneratorResult], messages: int) -> MergedReport:
    """One report from the generators' parts of a run of ``messages`` messages."""
    if not parts:
        raise ValueError("nothing to merge: no generator returned")
    replies: Counter[str] = Counter()
    for part in parts:
        replies.update(part.replies)
    return MergedReport(
        messages=messages,
        generators=sorted(parts, key=lambda part: part.index),
        replies=dict(replies),
        outcomes=_outcomes_of(replies),
        cut=sum(part.cut for part in parts),
        not_sent=sum(part.not_sent for part in parts),
        latencies_ms=list(heapq.merge(*(part.latencies_ms for part in parts))),
        started_at=min(part.started_at for part in parts),
        ended_at=max(part.ended_at for part in parts),
    )


def write_plots(report: MergedReport, directory: Path) -> list[Path]:
    """``distributed-latency-cdf.png`` (merged and per generator) and
    ``distributed-rate-by-generator.png`` (each generator's msg/s, the merged rate as a line)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    cdf_path = directory / "distributed-latency-cdf.png"
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for part in report.generators:
        _cdf(axes, part.latencies_ms, f"generator {part.index}", linewidth=0.8, alpha=0.6)
    _cdf(axes, report.latencies_ms, "merged", linewidth=2.0, color="black")
    axes.set_xlabel("latency, MAIL FROM to 250 after DATA (ms)")
    axes.set_ylabel("share of accepted messages")
    axes.set_title(f"Latency CDF, {len(report.generators)} generators")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(cdf_path)
    plt.close(figure)

    rate_path = directory / "distributed-rate-by-generator.png"
    figure, axes = plt.subplots(figsize=(7, 4.5))
    labels = [f"{part.index}\n{part.node[:16]}" for part in report.generators]
    axes.bar(labels, [part.rate for part in report.generators], color="tab:blue")
    axes.axhline(report.rate, color="black", linestyle="--", label=f"merged {report.rate:.0f}")
    axes.set_xlabel("generator (node)")
    axes.set_ylabel("accepted msg/s over its own window")
    axes.set_title("Rate by generator")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(rate_path)
    plt.close(figure)
    return [cdf_path, rate_path]


def _cdf(axes: object, values: Sequence[float], label: str, **style: object) -> None:
    if not values:
        return
    shares = [(rank + 1) / len(values) for rank in range(len(values))]
    axes.step(values, shares, where="post", label=label, **style)  # type: ignore[attr-defined]


def report_json(report: MergedReport) -> str:
    return json.dumps(report.as_json(), indent=2)
