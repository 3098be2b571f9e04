"""cluster/status_command: `mairust cluster status` as tables and as JSON, and its one-line
refusal when nothing runs. (Reading a live cluster: tests/integration/test_e2e_fuzz_restarts.)"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from cluster.cli import app
from cluster.ray_address import record_address
from cluster.ray_state import RayActor, RayNode
from cluster.status import ClusterReport, PoolReport, QueueReport, ServeDeployment
from cluster.status_command import json_text, queue_line, render, resources_text

NODE = "a1b2c3d4" + "0" * 48
OTHER = "ffee0011" + "0" * 48
GIB = 1024**3


def report(restarts: int = 0, oldest: float | None = 12.4) -> ClusterReport:
    worker = RayActor("ab01", "pipeline-worker-0", "PipelineWorker", NODE, "ALIVE", restarts, 4242)
    frontend = RayActor("ab02", "smtp-frontend", "FrontEndHost", NODE, "RESTARTING", 0, 0)
    replica = RayActor(
        "ab03", "SERVE_REPLICA::api#api#x", "ServeReplica:api:api", NODE, "ALIVE", 0, 77
    )
    node = RayNode(
        node_id=NODE,
        address="127.0.0.1",
        alive=True,
        resources={"CPU": 2.0, "smtp": 1.0, "memory": 4 * GIB, "node:127.0.0.1": 1.0},
        available={"CPU": 1.5, "smtp": 1.0, "memory": 2 * GIB, "node:127.0.0.1": 1.0},
    )
    return ClusterReport(
        ray_address="127.0.0.1:6379",
        nodes=[node],
        actors=[worker, frontend],
        serve=[ServeDeployment("api", "RUNNING", "api", "HEALTHY", {"RUNNING": 1})],
        serve_actors=[replica],
        queue=QueueReport(
            counts={"queued": 3, "leased": 2, "done": 10, "failed": 0},
            leased=2,
            expired_leases=1,
            oldest_lease_seconds=oldest,
        ),
        pools=[
            PoolReport(
                name="pipeline",
                size=3,
                minimum=1,
                maximum=4,
                members={
                    "pipeline-worker-0": NODE,
                    "pipeline-worker-3": NODE,
                    "pipeline-worker-4": OTHER,
                },
                per_node={NODE: 2, OTHER: 1},
                load={"waiting": 40, "in_flight": 12},
            ),
            PoolReport("delivery", 1, 1, 1, {"outbound-delivery-0": NODE}, {NODE: 1}, None),
        ],
    )


def rendered(value: ClusterReport) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render(value))
    return console.export_text()


def test_tables_show_nodes_actors_serve_and_queue() -> None:
    text = rendered(report(restarts=3))
    assert "Ray cluster at 127.0.0.1:6379" in text
    assert "a1b2c3d4 " in text and NODE not in text  # node ids shortened in tables
    assert "CPU 1.5/2, smtp 1/1, memory 2.0/4.0 GiB" in text
    assert "node:127.0.0.1" not in text
    worker = next(line for line in text.splitlines() if "pipeline-worker-0" in line)
    assert [cell.strip() for cell in worker.split("│")[1:-1]] == [
        "pipeline-worker-0", "PipelineWorker", "a1b2c3d4", "ALIVE", "3", "4242",
    ]  # fmt: skip
    assert "RESTARTING" in text
    assert "ServeReplica:api:api" in text and "HEALTHY" in text and "RUNNING 1" in text
    assert "queued: 3  leased: 2  done: 10  failed: 0" in text
    assert "oldest lease 12 s old, 1 of 2 expired" in text


def test_pools_show_size_bounds_load_and_members_per_node() -> None:
    text = rendered(report())
    assert "Pools" in text
    rows = {
        cells[0]: cells[1:]
        for line in text.splitlines()
        if len(cells := [cell.strip() for cell in line.split("│")[1:-1]]) == 5
    }
    assert rows["pipeline"] == ["3", "1-4", "40/12", "a1b2c3d4 2, ffee0011 1"]
    assert rows["delivery"] == ["1", "1-1", "-", "a1b2c3d4 1"]
    data = json.loads(json_text(report()))
    assert data["pools"][0]["members"]["pipeline-worker-4"] == OTHER
    assert data["pools"][1]["load"] is None


def test_no_lease_is_said_in_words() -> None:
    line = queue_line(report(oldest=None).queue)
    assert line.endswith("(no leases held)")


def test_resources_of_a_node_without_smtp() -> None:
    node = RayNode("n", "10.0.0.2", False, {"CPU": 4.0, "GPU": 1.0}, {})
    assert resources_text(node) == "CPU 0/4, GPU 0/1"


def test_json_carries_every_field_in_full() -> None:
    data = json.loads(json_text(report(restarts=1)))
    assert data["ray_address"] == "127.0.0.1:6379"
    assert data["nodes"][0]["node_id"] == NODE
    assert data["nodes"][0]["resources"]["smtp"] == 1.0
    assert data["actors"][0] == {
        "actor_id": "ab01",
        "class_name": "PipelineWorker",
        "name": "pipeline-worker-0",
        "node_id": NODE,
        "pid": 4242,
        "restarts": 1,
        "state": "ALIVE",
    }
    assert data["serve"][0]["replicas"] == {"RUNNING": 1}
    assert data["serve_actors"][0]["class_name"] == "ServeReplica:api:api"
    assert data["queue"] == {
        "counts": {"queued": 3, "leased": 2, "done": 10, "failed": 0},
        "leased": 2,
        "expired_leases": 1,
        "oldest_lease_seconds": 12.4,
    }


def test_nothing_running_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cluster", "status", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = " ".join(result.stderr.split())  # rich folds a long line at the console width
    assert "error: MaiRust is not running: no cluster.ray_address is set" in lines
    assert str(tmp_path) in lines


def test_a_stale_record_is_reported_as_not_running(tmp_path: Path) -> None:
    record_address(tmp_path, "127.0.0.1:1", pid=2**22 + 1)  # above Linux's pid_max default
    result = CliRunner().invoke(app, ["cluster", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    lines = " ".join(result.stderr.split())  # folded at the console width on a long path
    assert f"(pid {2**22 + 1})" in lines and "is gone" in lines
