"""cluster/deploy/grafana-dashboard.json: a Grafana dashboard whose every query reads only
metrics MaiRust exposes. The registry is the API's own (``ApiMetrics`` over a real,
migrated metadata store, so the collectors that read the store are in it too); a panel that
names a metric the registry lacks, such as one renamed since, fails the test."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mairust.api.metrics import ApiMetrics
from mairust.config import Settings
from mairust.storage.factory import migrate, open_stores

DASHBOARD = Path(__file__).resolve().parents[2] / "cluster" / "deploy" / "grafana-dashboard.json"
METRIC = re.compile(r"\bmairust_[a-zA-Z0-9_]+")
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


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def unknown_metrics(board: dict[str, Any], exposed: set[str]) -> list[str]:
    """``panel title: metric`` for each metric a query names that is not exposed."""
    return [
        f"{panel['title']}: {name}"
        for panel in panels(board)
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
        if name not in exposed
    ]


def test_every_panel_queries_metrics_the_registry_exposes(exposed: set[str]) -> None:
    board = dashboard()
    assert unknown_metrics(board, exposed) == []
    named = {name for panel in panels(board) for t in panel["targets"] for name in METRIC.findall(t["expr"])}
    # The families of today's registry, each on at least one panel.
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


def test_a_panel_naming_a_missing_metric_is_found(exposed: set[str]) -> None:
    board = copy.deepcopy(dashboard())
    target = panels(board)[1]["targets"][0]
    target["expr"] = target["expr"].replace("mairust_", "mairust_typo_", 1)
    assert unknown_metrics(board, exposed) == [
        f"{panels(board)[1]['title']}: {METRIC.findall(target['expr'])[0]}"
    ]


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
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
