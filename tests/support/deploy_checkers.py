"""The Go checkers of cluster/deploy/ for tests: built by the project's own (idempotent,
cached) build script, so a lone ``pytest`` works too; a failed build FAILS the test, never
skips it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / ".ci" / "build-go-deploy-validator.sh"


@dataclass(frozen=True)
class DeployCheckers:
    kuberay: Path  # decodes KubeRay manifests strictly into KubeRay's Go types
    promql: Path  # parses a Grafana dashboard's queries with Prometheus's PromQL parser


def build_deploy_checkers() -> DeployCheckers:
    built = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"the deploy checkers did not build:\n{built.stderr}"
    kuberay, promql = (Path(line) for line in built.stdout.strip().splitlines()[-2:])
    for binary in (kuberay, promql):
        assert binary.is_file() and os.access(binary, os.X_OK), binary
    return DeployCheckers(kuberay, promql)
