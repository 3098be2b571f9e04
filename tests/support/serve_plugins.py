"""Serve plugin packages for tests: a directory holding a tiny SDK plugin (answers at
pre_receive after ``config["sleep"]`` seconds, fails when ``config["fail"]``), and a
loopback Ray with Serve started as ``mairust up`` starts them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLOW_PLUGIN = """
import asyncio

from mairust.plugin_sdk import Plugin, tag

plugin = Plugin("slow")


@plugin.pre_receive
async def answer(request, config):
    await asyncio.sleep(config.get("sleep", 0))
    if config.get("fail"):
        raise RuntimeError("asked to fail")
    return tag(config.get("tag", "seen"))
"""


def slow_plugin_package(base: Path) -> Path:
    """A package directory holding the slow plugin (entrypoint ``slow:plugin``)."""
    directory = base / "slow-plugin"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "slow.py").write_text(SLOW_PLUGIN)
    return directory


@contextmanager
def ray_with_serve(data_dir: Path) -> Iterator[None]:
    """A loopback Ray (``start_ray``) with Serve and no HTTP proxy; both end after."""
    import ray
    from ray import serve

    from cluster.ray_runtime import start_ray
    from mairust.config import Settings

    assert not ray.is_initialized(), "another test left Ray running"
    start_ray(Settings(data_dir=data_dir))
    try:
        serve.start(proxy_location="Disabled")
        yield
    finally:
        serve.shutdown()
        ray.shutdown()
