"""The telemetry of an actor's process: its name as the ``process`` label, and the
snapshot the API asks each named actor for (``serve.telemetry_source``)."""

from __future__ import annotations

import os

import ray

from mairust.telemetry import PlatformMetrics, TelemetrySnapshot


class ActorTelemetry:
    """One per actor; ``snapshot`` is what its ``telemetry_snapshot`` method returns."""

    def __init__(self) -> None:
        self.metrics = PlatformMetrics()

    def snapshot(self) -> TelemetrySnapshot:
        return self.metrics.snapshot(actor_label())


def actor_label() -> str:
    """The actor's name (stable across restarts), else its process id."""
    try:
        name = ray.get_runtime_context().get_actor_name()
    except Exception:  # not inside an actor (a test calling the host class directly)
        name = None
    return name or f"pid-{os.getpid()}"
