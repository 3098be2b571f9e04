"""The processes' telemetry as the API replica reads it: every named actor of the Ray
cluster (any namespace) that has a ``telemetry_snapshot`` method (front-ends, pipeline workers,
delivery loops), asked at once, with one deadline.

The actors are found by name at each call, so a pool that grew, a restarted actor or a
front-end on a new node is in the next scrape; one that does not answer in time is left
out of it (its counters are in the next), never waited for.
"""

from __future__ import annotations

import logging

import ray

from mairust.telemetry import TelemetrySnapshot

_log = logging.getLogger(__name__)

# A scrape (Prometheus' default timeout 10 s) or a chart poll should not wait on one slow
# actor for long.
DEADLINE_SECONDS = 2.0
METHOD = "telemetry_snapshot"


def named_actor_telemetry() -> list[TelemetrySnapshot]:
    refs = []
    # Every namespace: the replica runs in Serve's, the actors in their driver's job's.
    for named in ray.util.list_named_actors(all_namespaces=True):
        try:
            handle = ray.get_actor(named["name"], namespace=named["namespace"])
        except ValueError:  # gone since it was listed
            continue
        method = getattr(handle, METHOD, None)
        if method is not None:
            refs.append(method.remote())
    if not refs:
        return []
    ready, late = ray.wait(refs, num_returns=len(refs), timeout=DEADLINE_SECONDS)
    if late:
        _log.info("telemetry: %d actors did not answer in %.0f s", len(late), DEADLINE_SECONDS)
    snapshots = []
    for ref in ready:
        try:
            snapshots.append(ray.get(ref))
        except ray.exceptions.RayError as exc:
            _log.info("telemetry: an actor failed to answer: %s", exc)
    return snapshots
