"""cluster/status: which cluster `mairust cluster status` reads, which actors are MaiRust's,
and the queue part of its report. (Ray's side is read live by
tests/integration/test_e2e_fuzz_restarts.py.)"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import importlib
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import ray.actor

import actors
from cluster.ray_address import record_address
from cluster.ray_state import ClusterNotRunning
from cluster.status import MAIRUST_ACTOR_CLASSES, is_serve_actor, queue_report, ray_address_of
from mairust.config import Settings


def test_the_configured_address_wins_over_the_data_dir(tmp_path: Path) -> None:
    record_address(tmp_path, "127.0.0.1:1111")
    configured = Settings(data_dir=tmp_path, cluster={"ray_address": "10.0.0.1:6379"})
    assert ray_address_of(configured) == "10.0.0.1:6379"
    assert ray_address_of(Settings(data_dir=tmp_path)) == "127.0.0.1:1111"


def test_no_address_anywhere_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(ClusterNotRunning, match="no `mairust up` runs"):
        ray_address_of(Settings(data_dir=tmp_path))


def test_every_actor_class_mairust_defines_is_listed_as_mairusts() -> None:
    """A new actor module must be known to `cluster status` (or its restarts go unread)."""
    defined = set()
    for module in pkgutil.iter_modules(actors.__path__):
        loaded = importlib.import_module(f"actors.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, ray.actor.ActorClass):
                defined.add(value.__ray_metadata__.class_name)  # type: ignore[attr-defined]
    assert defined and defined == set(MAIRUST_ACTOR_CLASSES)


def test_serve_actors_are_told_apart() -> None:
    assert is_serve_actor("ServeReplica:api:api")
    assert is_serve_actor("ServeController") and is_serve_actor("ProxyActor")
    assert not is_serve_actor("PipelineWorker")


def test_the_queue_report_names_every_state(tmp_path: Path) -> None:
    report = queue_report(Settings(data_dir=tmp_path), datetime.now(UTC))
    assert report.counts == {"queued": 0, "leased": 0, "done": 0, "failed": 0}
    assert (report.leased, report.expired_leases, report.oldest_lease_seconds) == (0, 0, None)
