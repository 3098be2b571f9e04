"""`mairust cluster up` refuses to start without a cluster to join; the start itself runs in
tests/integration/test_e2e_multi_node.py (a head and two SMTP nodes)."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app


def test_without_a_ray_address_it_says_so_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAIRUST_CLUSTER__RAY_ADDRESS", raising=False)
    result = CliRunner().invoke(
        app, ["cluster", "up", "--data-dir", str(tmp_path / "data")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, result.output
    assert "give the cluster: --address or [cluster] ray_address" in result.output
    assert not (tmp_path / "data").exists()  # no store was made or migrated
