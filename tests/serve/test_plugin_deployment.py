"""serve/plugin_deployment: a serve plugin as its own Serve application on a real loopback
Ray — deployed from its stored package, configured through Serve's user_config, answering
bursts in batches, scaled by its autoscaling config, and removed."""

from __future__ import annotations

import os

# Autoscaling decisions follow the load the handles and replicas report; Serve's default
# is every 10 s. Set before Ray and Serve are imported (their processes read it at start).
os.environ.setdefault("RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "0.5")
os.environ.setdefault("RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "0.5")

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray import serve

from cluster.loopback import bind_serve_grpc_to_node_ip
from mairust.hooks.chain import Binding
from mairust.hooks.deployment import PluginApp, PluginPackages, app_name
from mairust.hooks.manifest import Autoscaling, Resources
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.wire import HookRequest
from mairust.model.verdict import VerdictKind
from serve.plugin_deployment import DEPLOYMENT, ServePluginDeployer
from serve.plugin_transport import ServePlugin
from tests.support.serve_plugins import ray_with_serve, slow_plugin_package

HEADER_RULES = Path(__file__).resolve().parents[2] / "plugins" / "header_rules"
BINDING = Binding("slow", HookPoint.PRE_RECEIVE)


@pytest.fixture(scope="module")
def ray_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with ray_with_serve(tmp_path_factory.mktemp("ray") / "data"):
        yield


@pytest.fixture
def packages(tmp_path: Path) -> PluginPackages:
    return PluginPackages(tmp_path / "plugins")


def request(subject: str = "hello") -> HookRequest:
    return HookRequest(
        point=HookPoint.PRE_RECEIVE,
        scopes=[DataScope.HEADERS],
        headers=[("Subject", subject)],
    )


def replicas(plugin: str) -> int:
    """RUNNING replicas of the plugin's deployment, from Serve's status API."""
    status = serve.status().applications[app_name(plugin)]
    states = status.deployments[DEPLOYMENT].replica_states
    return sum(count for state, count in states.items() if state == "RUNNING")


async def replica_stats(plugin: str) -> dict[str, int]:
    stats: dict[str, int] = await serve.get_app_handle(app_name(plugin)).stats.remote()
    return stats


def test_header_rules_deploys_reconfigures_and_is_removed(
    ray_serve: None, packages: PluginPackages
) -> None:
    deployer = ServePluginDeployer(replica_setup=bind_serve_grpc_to_node_ip)
    stored = packages.keep("header-rules", "1.0.0", HEADER_RULES)
    rules = [{"header": "subject", "pattern": "pills", "action": "reject", "reply": "550 5.7.1 No"}]
    app = PluginApp("header-rules", "1.0.0", stored, "plugin:plugin", {"rules": rules})
    deployer.deploy(app)
    try:
        assert deployer.running() == {"header-rules": app.fingerprint}
        call = ServePlugin("header-rules")
        refused = asyncio.run(call(BINDING, request("cheap pills")))
        assert (refused.verdict, refused.reply) == (VerdictKind.REJECT, "550 5.7.1 No")
        assert asyncio.run(call(BINDING, request("hello"))).verdict is VerdictKind.CONTINUE

        # A new configuration is deployed (Serve's user_config; the replicas roll).
        tagging = [{"header": "subject", "pattern": "hello", "action": "tag", "tag": "hi"}]
        deployer.deploy(
            PluginApp("header-rules", "1.0.0", stored, "plugin:plugin", {"rules": tagging})
        )
        answer = asyncio.run(ServePlugin("header-rules")(BINDING, request("hello")))
        assert answer.tags == ["hi"]
    finally:
        deployer.remove("header-rules")
    assert deployer.running() == {}
    assert app_name("header-rules") not in serve.status().applications


def test_a_burst_is_answered_in_batches(
    ray_serve: None, packages: PluginPackages, tmp_path: Path
) -> None:
    deployer = ServePluginDeployer(replica_setup=bind_serve_grpc_to_node_ip)
    stored = packages.keep("slow", "1.0.0", slow_plugin_package(tmp_path))
    scaling = Autoscaling(max_batch_size=16, batch_wait_ms=50)
    deployer.deploy(PluginApp("slow", "1.0.0", stored, "slow:plugin", {"sleep": 0.01}, scaling))
    try:
        call = ServePlugin("slow")

        async def burst() -> list[str]:
            answers = await asyncio.gather(*(call(BINDING, request()) for _ in range(40)))
            return [tag for answer in answers for tag in answer.tags]

        assert asyncio.run(burst()) == ["seen"] * 40
        assert call.calls == 1  # one Serve call carried the 40 requests
        stats = asyncio.run(replica_stats("slow"))
        assert stats["requests"] == 40
        # At most 16 a batch of the plugin: at least 3 batches, far fewer than 40.
        assert 3 <= stats["batches"] <= 10, stats

        # Several callers (front-ends) at once: their requests meet in the replica's batches.
        callers = [ServePlugin("slow") for _ in range(8)]

        async def from_everyone() -> int:
            answers = await asyncio.gather(
                *(caller(BINDING, request()) for caller in callers for _ in range(5))
            )
            return len(answers)

        assert asyncio.run(from_everyone()) == 40
        after = asyncio.run(replica_stats("slow"))
        assert after["requests"] == 80
        assert after["batches"] - stats["batches"] < 8, after  # fewer than one per caller
    finally:
        deployer.remove("slow")


def test_a_plugin_that_fails_is_a_plugin_failed(
    ray_serve: None, packages: PluginPackages, tmp_path: Path
) -> None:
    from mairust.hooks.http_transport import PluginFailed

    deployer = ServePluginDeployer(replica_setup=bind_serve_grpc_to_node_ip)
    stored = packages.keep("slow", "1.0.0", slow_plugin_package(tmp_path))
    deployer.deploy(PluginApp("slow", "1.0.0", stored, "slow:plugin", {"fail": True}))
    try:
        with pytest.raises(PluginFailed, match="asked to fail"):
            asyncio.run(ServePlugin("slow")(BINDING, request()))
    finally:
        deployer.remove("slow")
    with pytest.raises(PluginFailed, match="is not deployed"):
        asyncio.run(ServePlugin("slow")(BINDING, request()))


def test_a_burst_scales_the_plugin_up_and_back_down(
    ray_serve: None, packages: PluginPackages, tmp_path: Path
) -> None:
    """Test-sized autoscaling: one replica, two under load (one ongoing request each)."""
    deployer = ServePluginDeployer(replica_setup=bind_serve_grpc_to_node_ip)
    stored = packages.keep("slow", "1.0.0", slow_plugin_package(tmp_path))
    scaling = Autoscaling(
        min_replicas=1,
        max_replicas=2,
        target_ongoing_requests=1,
        upscale_delay_s=0.5,
        downscale_delay_s=2,
        look_back_period_s=2,
        max_batch_size=1,
    )
    app = PluginApp("slow", "1.0.0", stored, "slow:plugin", {"sleep": 0.2}, scaling, Resources())
    deployer.deploy(app)
    try:
        assert replicas("slow") == 1
        # Eight front-ends, each with a call out: eight ongoing requests for one replica.
        callers = [ServePlugin("slow") for _ in range(8)]

        async def burst_until_scaled(limit: float) -> int:
            """Keeps 8 calls in flight until a second replica runs (or ``limit`` s)."""
            ends = time.monotonic() + limit
            peak = 1
            while time.monotonic() < ends and peak < 2:
                await asyncio.gather(*(caller(BINDING, request()) for caller in callers))
                peak = max(peak, replicas("slow"))
            return peak

        assert asyncio.run(burst_until_scaled(60.0)) == 2
        # The load is gone: back to one replica after the downscale delay.
        ends = time.monotonic() + 60.0
        while replicas("slow") > 1 and time.monotonic() < ends:
            time.sleep(0.5)
        assert replicas("slow") == 1
    finally:
        deployer.remove("slow")
