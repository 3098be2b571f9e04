"""cluster/deploy/grafana-dashboard.json: a Grafana dashboard whose every query is PromQL
that Prometheus's own parser reads (cluster/deploy/validate/promql) and names only metrics
MaiRust exposes. The registry is the API's own (``ApiMetrics`` over a real, migrated
metadata store, so the collectors that read the store are in it too); a panel that names a
metric the registry lacks, such as one renamed since, fails the test."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mairust.api.metrics import ApiMetrics
from mairust.config import Settings
from mairust.storage.factory import migrate, open_stores
from tests.support.deploy_checkers import build_deploy_checkers

DASHBOARD = Path(__file__).resolve().parents[2] / "cluster" / "deploy" / "grafana-dashboard.json"
# The series a family of each type exposes, by suffix (the Prometheus text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every series name the API's registry can expose."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("grafana") / "data")
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        registry = ApiMetrics(stores.metadata).registry
        yield {
            family.name + suffix
            for family in registry.collect()
            for suffix in SUFFIXES[family.type]
        }
    finally:
        stores.close()


@pytest.fixture(scope="module")
def promql() -> Path:
    return build_deploy_checkers().promql


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def parsed_queries(promql: Path, path: Path) -> list[dict[str, Any]]:
    """Each query's panel, refId and the metrics its selectors name, as PromQL reads them."""
    result = subprocess.run([str(promql), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    queries: list[dict[str, Any]] = json.loads(result.stdout)
    return queries


def unknown_metrics(queries: list[dict[str, Any]], exposed: set[str]) -> list[str]:
    """``panel: metric`` for each metric a query names that the registry does not expose."""
    return [
        f"{query['panel']}: {name}"
        for query in queries
        for name in query["metrics"]
        if name not in exposed
    ]


def test_every_query_parses_and_names_only_exposed_metrics(promql: Path, exposed: set[str]) -> None:
    queries = parsed_queries(promql, DASHBOARD)
    panels = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert len(queries) == sum(len(panel["targets"]) for panel in panels)
    assert all(query["metrics"] for query in queries)
    assert unknown_metrics(queries, exposed) == []
    named = {name for query in queries for name in query["metrics"]}
    # Every family of today's registry has a panel.
    families = {
        "mairust_api_requests_total",
        "mairust_api_request_duration_seconds_bucket",
        "mairust_metadata_up",
        "mairust_queue_rows",
        "mairust_search_backlog_entries",
        "mairust_outbound_recipients",
        "mairust_outbound_waiting",
        "mairust_plugin_calls_total",
        "mairust_plugin_call_duration_seconds_bucket",
        "mairust_plugin_circuit_open",
    }
    assert families <= named
    assert families <= exposed


def _rename_a_metric(board: dict[str, Any]) -> None:
    target = board["panels"][1]["targets"][0]
    target["expr"] = target["expr"].replace("mairust_metadata_up", "mairust_metadata_upp")


def _break_the_syntax(board: dict[str, Any]) -> None:
    target = board["panels"][3]["targets"][0]
    target["expr"] = target["expr"].replace("max by (state) (", "max by (state (")


def test_a_query_naming_a_missing_metric_is_found(
    promql: Path, exposed: set[str], tmp_path: Path
) -> None:
    board = copy.deepcopy(dashboard())
    _rename_a_metric(board)
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(board))
    assert unknown_metrics(parsed_queries(promql, path), exposed) == [
        "Metadata store answering: mairust_metadata_upp"
    ]


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
