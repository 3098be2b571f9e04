"""cluster/deploy/grafana-dashboard.json: a Grafana dashboard whose every query is PromQL
that Prometheus's own parser reads (cluster/deploy/validate/promql), names only metrics
MaiRust exposes and groups, matches and selects only by labels those metrics carry.

The registry is the API's own (``ApiMetrics`` over a real, migrated metadata store, so the
collectors that read the store are in it too, and with a telemetry source that hands it a
real ``PlatformMetrics`` snapshot, so the processes' families come from their definitions in
mairust/telemetry.py with the ``process`` label the API adds). Every family is given one
sample first, because a family's label names are only seen on its samples. A panel that
names a metric the registry lacks, or a label the metric does not carry, fails the test,
and so does a family no panel charts."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mairust.api.metrics import ApiMetrics
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.outbound import RemoteRecipient
from mairust.model.plugins import BreakerReport, HookCall
from mairust.storage.factory import migrate, open_stores
from mairust.storage.protocols import MetadataStore
from mairust.telemetry import PlatformMetrics
from tests.support.deploy_checkers import build_deploy_checkers

DASHBOARD = Path(__file__).resolve().parents[2] / "cluster" / "deploy" / "grafana-dashboard.json"
# Series name -> the label names its samples carry.
Exposed = dict[str, frozenset[str]]
# The series of a family, by suffix (the Prometheus text format).
SUFFIXES = ("", "_total", "_bucket", "_sum", "_count")


def give_every_family_a_sample(metadata: MetadataStore, platform: PlatformMetrics) -> None:
    """One of each thing the metrics count, through the same calls the platform makes."""
    now = datetime.now(UTC)
    body = b"Subject: out\r\n\r\nhi\r\n"
    ref = MessageRef(new_id(), len(body), "0" * 64, new_id())
    envelope = Envelope("ann@ours.example", ("bo@far.example",), now)
    remote = (RemoteRecipient("bo@far.example"),)
    metadata.commit_messages([SpoolRecord(ref, envelope, remote=remote)])
    call = HookCall(new_id(), now, "rcpt_to", "rules", "enforce", "answered", "accept", 2.0)
    metadata.record_hook_calls([call])
    metadata.report_breaker(BreakerReport("rules", "smtp@h:1", "open", now, 30.0, 1))
    platform.session_opened("smtp")
    platform.reply_sent("250 2.0.0 Ok")
    platform.accepted(0.004, "250 2.0.0 Ok")
    platform.spool_committed(messages=1, local_rows=1, seconds=0.002)
    platform.stage_ran("parse", rows=1, seconds=0.001)
    platform.rows_settled(delivered=1, deferred=0, failed=0)
    platform.attempt_made("delivered", 0.3)


@dataclass(frozen=True)
class Registry:
    """What the API's registry exposes once every family has a sample."""

    families: frozenset[str]  # as prometheus_client names them: counters without _total
    series: Exposed


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("grafana") / "data")
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        platform = PlatformMetrics()
        give_every_family_a_sample(stores.metadata, platform)
        metrics = ApiMetrics(stores.metadata, lambda: [platform.snapshot("smtp-frontend")])
        metrics.observe("GET", "/api/v1/domains", 200, 0.01)
        families = list(metrics.registry.collect())
        # A family without samples shows no label names: give it one above.
        assert [family.name for family in families if not family.samples] == []
        labels: dict[str, set[str]] = {}
        for family in families:
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
        yield Registry(
            frozenset(family.name for family in families),
            {name: frozenset(names) for name, names in labels.items()},
        )
    finally:
        stores.close()


@pytest.fixture(scope="module")
def exposed(registry: Registry) -> Exposed:
    """Every series the API's registry exposes, with the label names each carries."""
    return registry.series


@pytest.fixture(scope="module")
def promql() -> Path:
    return build_deploy_checkers().promql


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def parsed_queries(promql: Path, path: Path) -> list[dict[str, Any]]:
    """Each query's panel, refId, the metrics its selectors name and the labels it uses,
    as PromQL reads them."""
    result = subprocess.run([str(promql), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    queries: list[dict[str, Any]] = json.loads(result.stdout)
    return queries


def unknown_metrics(queries: list[dict[str, Any]], exposed: Exposed) -> list[str]:
    """``panel: metric`` for each metric a query names that the registry does not expose."""
    return [
        f"{query['panel']}: {name}"
        for query in queries
        for name in query["metrics"]
        if name not in exposed
    ]


def unknown_labels(queries: list[dict[str, Any]], exposed: Exposed) -> list[str]:
    """``panel query: clause (label) ...`` for each label a query groups, matches or selects
    by that a metric it applies to does not carry (unknown metrics are unknown_metrics')."""
    return [
        f"{query['panel']} {query['refId']}: {use['clause']} ({label}) is not a label of {name}"
        for query in queries
        for use in query["labels"]
        for label in use["labels"]
        for name in use["metrics"]
        if name in exposed and label not in exposed[name]
    ]


def test_every_query_parses_and_names_only_exposed_metrics_and_labels(
    promql: Path, registry: Registry
) -> None:
    exposed = registry.series
    queries = parsed_queries(promql, DASHBOARD)
    panels = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert len(queries) == sum(len(panel["targets"]) for panel in panels)
    assert all(query["metrics"] for query in queries)
    assert unknown_metrics(queries, exposed) == []
    assert unknown_labels(queries, exposed) == []
    assert any(query["labels"] for query in queries)
    named = {name for query in queries for name in query["metrics"]}
    # Every family of the registry has a panel, the processes' telemetry ones included.
    uncharted = {
        family
        for family in registry.families
        if not any(family + suffix in named for suffix in SUFFIXES)
    }
    assert uncharted == set()
    telemetry = {family.name for family in PlatformMetrics().registry.collect()}
    assert telemetry and telemetry <= registry.families
    for family in telemetry:
        assert all(
            "process" in exposed[family + suffix]
            for suffix in SUFFIXES
            if family + suffix in exposed
        )


def _rename_a_metric(board: dict[str, Any]) -> None:
    target = board["panels"][1]["targets"][0]
    target["expr"] = target["expr"].replace("mairust_metadata_up", "mairust_metadata_upp")


def _break_the_syntax(board: dict[str, Any]) -> None:
    target = board["panels"][3]["targets"][0]
    target["expr"] = target["expr"].replace("max by (state) (", "max by (state (")


def test_a_query_naming_a_missing_metric_is_found(
    promql: Path, exposed: Exposed, tmp_path: Path
) -> None:
    board = copy.deepcopy(dashboard())
    _rename_a_metric(board)
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(board))
    assert unknown_metrics(parsed_queries(promql, path), exposed) == [
        "Metadata store answering: mairust_metadata_upp"
    ]


def _edit(board: dict[str, Any], title: str, old: str, new: str) -> None:
    (panel,) = (panel for panel in board["panels"] if panel["title"] == title)
    target = panel["targets"][0]
    assert old in target["expr"]
    target["expr"] = target["expr"].replace(old, new)


@pytest.mark.parametrize(
    ("title", "old", "new", "fault"),
    [
        (  # a misspelled grouping label
            "SMTP sessions by listener",
            "sum without (process)",
            "sum by (listner)",
            "by (listner) is not a label of mairust_smtp_sessions_total",
        ),
        (  # the store's gauges carry no process label: only the processes' telemetry does
            "Oldest due queue row",
            "max(",
            "sum without (process) (",
            "without (process) is not a label of mairust_queue_oldest_due_age_seconds",
        ),
        (  # a histogram's buckets carry le, its _count does not
            "Delivery attempts by result",
            "sum without (process)",
            "sum by (le)",
            "by (le) is not a label of mairust_delivery_attempt_duration_seconds_count",
        ),
        (  # a selector's matcher
            "SMTP replies by code class",
            'code=~"2.."',
            'status=~"2.."',
            "matcher (status) is not a label of mairust_smtp_replies_total",
        ),
    ],
    ids=["misspelled-by", "without-on-a-store-gauge", "le-off-the-buckets", "matcher"],
)
def test_a_query_using_a_label_its_metric_lacks_is_found(
    promql: Path, exposed: Exposed, tmp_path: Path, title: str, old: str, new: str, fault: str
) -> None:
    board = copy.deepcopy(dashboard())
    _edit(board, title, old, new)
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(board))
    queries = parsed_queries(promql, path)
    assert unknown_metrics(queries, exposed) == []
    assert unknown_labels(queries, exposed) == [f"{title} A: {fault}"]


def test_a_query_that_is_not_promql_is_refused(promql: Path, tmp_path: Path) -> None:
    board = copy.deepcopy(dashboard())
    _break_the_syntax(board)
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(board))
    result = subprocess.run([str(promql), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'panel "Queue rows by state" query A' in result.stderr


def test_the_dashboard_is_well_formed_for_grafana() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] == "MaiRust"
    (variable,) = board["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
