"""What an operator deploys (cluster/deploy/), validated as far as this machine can without a
cloud or a Kubernetes: the Ray cluster launcher config against the JSON schema that ships
inside Ray (and Ray's own further checks), the KubeRay manifests by a strict decode into
KubeRay's Go API types (cluster/deploy/validate/kuberay, built by its script), and the files that
must agree with each other. Each validator is also shown to refuse a broken document.

The Serve config is tested with its builders (tests/serve/test_config_apps.py), the region
config with its model (test_regions.py), the Grafana dashboard in test_grafana_dashboard.py.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from mairust.config import load_settings
from tests.support.deploy_checkers import build_deploy_checkers

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "cluster" / "deploy"
KUBERAY = DEPLOY / "kuberay"
LAUNCHER = DEPLOY / "ray-cluster.yaml"
RAY_SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


def launcher_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(LAUNCHER.read_text())
    return config


def ray_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(RAY_SCHEMA.read_text())
    return schema


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


# -- the Ray cluster launcher config ---------------------------------------------------------


def test_launcher_config_fits_the_schema_inside_ray() -> None:
    config = launcher_config()
    jsonschema.validate(config, ray_schema())
    # What `ray up` does next: its defaults filled in, then its checks beyond the schema
    # (the head type among the node types, worker bounds).
    validate_config(prepare_config(copy.deepcopy(config)))


def test_launcher_puts_the_smtp_resource_on_the_edge_workers_only() -> None:
    config = launcher_config()
    types = config["available_node_types"]
    with_smtp = sorted(name for name, node in types.items() if node["resources"].get("smtp"))
    assert with_smtp == ["ray.worker.smtp"]
    assert types["ray.worker.pipeline"]["resources"] == {"CPU": 4}
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}


def test_launcher_installs_mairust_with_the_images_ray_and_keeps_the_dashboard_local() -> None:
    config = launcher_config()
    version = ray.__version__
    assert config["docker"]["image"].startswith(f"rayproject/ray:{version}-")
    setup = " ".join(config["setup_commands"])
    assert "pip install" in setup and "/home/ray/mairust " in setup
    assert f'"ray[serve]=={version}"' in setup
    assert config["file_mounts"]["/home/ray/mairust"] == "."
    head = " ".join(config["head_start_ray_commands"])
    assert "ray start --head" in head and "--dashboard-host=127.0.0.1" in head
    workers = " ".join(config["worker_start_ray_commands"])
    assert "--address=$RAY_HEAD_IP:6379" in workers


def _misspell_top_level(config: dict[str, Any]) -> None:
    config["setup_command"] = config.pop("setup_commands")


def _misspell_in_a_node_type(config: dict[str, Any]) -> None:
    node = config["available_node_types"]["ray.worker.smtp"]
    node["max_worker"] = node.pop("max_workers")


def _resource_as_text(config: dict[str, Any]) -> None:
    config["available_node_types"]["ray.worker.smtp"]["resources"]["smtp"] = "1"


@pytest.mark.parametrize(
    ("break_it", "refusal"),
    [
        (_misspell_top_level, "'setup_command' was unexpected"),
        (_misspell_in_a_node_type, "'max_worker' was unexpected"),
        (_resource_as_text, "'1' is not of type 'integer'"),
    ],
)
def test_the_schema_refuses_a_broken_launcher_config(break_it: Any, refusal: str) -> None:
    config = launcher_config()
    break_it(config)
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.validate(config, ray_schema())
    assert refusal in refused.value.message


# -- the KubeRay manifests, decoded by KubeRay's own Go types ------------------------------


@pytest.fixture(scope="module")
def validator() -> Path:
    """The Go validator, built (or found built) by its script; a failed build fails."""
    return build_deploy_checkers().kuberay


def validate(validator: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(validator), *map(str, paths)], capture_output=True, text=True, timeout=60
    )


def test_kuberay_manifests_decode_strictly_into_kuberays_types(validator: Path) -> None:
    result = validate(validator, *sorted(KUBERAY.glob("*.yaml")))
    assert result.returncode == 0, result.stderr
    verdicts = sorted(line.split(": ")[-1] for line in result.stdout.splitlines())
    assert verdicts == [
        "ConfigMap mairust-config ok",
        "RayCluster mairust ok",
        "RayService mairust ok",
        "Service mairust-smtp ok",
    ]


@pytest.mark.parametrize(
    ("manifest", "old", "new", "refusal"),
    [
        # A misspelled field: the API server would drop it without a word.
        ("raycluster.yaml", "replicas: 2\n", "replica: 2\n", 'unknown field "replica"'),
        (
            "rayservice.yaml",
            "workerGroupSpecs:",
            "workerGroupSpec:",
            'unknown field "workerGroupSpec"',
        ),
        (
            "raycluster.yaml",
            "containerPort: 2525",
            'containerPort: "smtp"',
            "cannot unmarshal string",
        ),
        (
            "raycluster.yaml",
            "  rayVersion:",
            '  rayVersion: "2.0.0"\n  rayVersion:',
            "already set in map",
        ),
        ("rayservice.yaml", "apiVersion: ray.io/v1", "apiVersion: ray.io/v1alpha9", "not a kind"),
    ],
)
def test_the_validator_refuses_a_broken_manifest(
    validator: Path, tmp_path: Path, manifest: str, old: str, new: str, refusal: str
) -> None:
    text = (KUBERAY / manifest).read_text()
    assert old in text
    broken = tmp_path / manifest
    broken.write_text(text.replace(old, new, 1))
    result = validate(validator, broken)
    assert result.returncode == 1, result.stdout
    assert refusal in result.stderr


# -- what must agree between the files -----------------------------------------------------


def test_the_rayservice_runs_the_rayclusters_spec_and_the_serve_config() -> None:
    (cluster,) = documents(KUBERAY / "raycluster.yaml")
    (service,) = documents(KUBERAY / "rayservice.yaml")
    assert service["spec"]["rayClusterConfig"] == cluster["spec"]
    serve_config = yaml.safe_load((DEPLOY / "serve-config.yaml").read_text())
    assert yaml.safe_load(service["spec"]["serveConfigV2"]) == serve_config


def test_the_smtp_service_reaches_the_smtp_edge_group_on_the_configured_ports(
    tmp_path: Path,
) -> None:
    (cluster,) = documents(KUBERAY / "raycluster.yaml")
    spec = cluster["spec"]
    assert spec["rayVersion"] == ray.__version__
    groups = {group["groupName"]: group for group in spec["workerGroupSpecs"]}
    with_smtp = {name for name, group in groups.items() if "smtp" in group.get("resources", {})}
    assert with_smtp == {"smtp-edge"}
    assert groups["smtp-edge"]["resources"] == {"smtp": "1"}
    config_map, service = documents(KUBERAY / "mairust-config.yaml")
    assert service["spec"]["selector"] == {"ray.io/group": "smtp-edge"}
    # The ConfigMap's mairust.toml is a configuration MaiRust loads, listening where the
    # load balancer sends.
    path = tmp_path / "mairust.toml"
    path.write_text(config_map["data"]["mairust.toml"])
    settings = load_settings(path)
    assert settings.smtp.host == "0.0.0.0"
    assert settings.storage.blobs.startswith("s3://")
    assert settings.storage.search.startswith("opensearch://")
    targets = {port["targetPort"] for port in service["spec"]["ports"]}
    assert targets == {settings.smtp.port, settings.smtp.submission_port}


def test_the_dockerfile_builds_on_the_ray_the_manifests_name() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray.__version__}-py311" in dockerfile
    assert f'"ray[serve]=={ray.__version__}"' in dockerfile
    images = {
        container["image"]
        for document in documents(KUBERAY / "raycluster.yaml")
        for group in [document["spec"]["headGroupSpec"], *document["spec"]["workerGroupSpecs"]]
        for container in group["template"]["spec"]["containers"]
    }
    assert images == {"mairust-ray:0.1.0"}
