"""Joining the Ray cluster of a running ``mairust up`` from a benchmark process, and putting a
yardstick application into its Serve (``load.serve_hello``, ``load.serve_floor``).

The cluster is found by its GCS server among the processes of the platform's session (it
listens on a port it picked, ``--gcs_server_port=0``, and writes that port into its Ray
session directory, the parent of its ``--log_dir``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def gcs_address_of_session(sid: int) -> str | None:
    """``127.0.0.1:PORT`` of the GCS server among the processes of session ``sid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(fields[3]) != sid or not words or not words[0].endswith("gcs_server"):
            continue
        logs = next((w.split("=", 1)[1] for w in words if w.startswith("--log_dir=")), None)
        if logs is None:
            return None
        for port_file in Path(logs).parent.glob("gcs_server_port_*"):
            return f"127.0.0.1:{port_file.read_text().strip()}"
    return None


@contextlib.contextmanager
def ray_of(mairust_pid: int) -> Iterator[None]:
    """This process joined to the Ray cluster of the ``mairust up`` whose session leader is
    ``mairust_pid``; it leaves the cluster afterwards."""
    # The platform's Ray settings (loopback binding above all), set before Ray is imported.
    import cluster  # noqa: F401

    # `mairust up` starts its Ray with token authentication; a driver joining it needs the
    # same mode (the token is the user's, in ~/.ray/auth_token).
    # It is put back after: a pytest worker starts its own Ray clusters later.
    saved_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray

    try:
        address = gcs_address_of_session(mairust_pid)
        if address is None:
            raise RuntimeError(f"no Ray GCS server in the session of pid {mairust_pid}")
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        try:
            yield
        finally:
            ray.shutdown()
    finally:
        if saved_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_mode


@dataclass(frozen=True)
class Yardstick:
    """An application to put beside the platform's: ``make()`` returns its deployment class
    (called once this process has joined Ray, so it may import Ray Serve), deployed as the
    Serve application ``bench-<name>`` under ``route_prefix`` (None: no HTTP route)."""

    make: Callable[[], type]
    name: str
    route_prefix: str | None = None


@contextlib.contextmanager
def yardstick_apps(mairust_pid: int, apps: Sequence[Yardstick]) -> Iterator[list[Any]]:
    """``apps`` beside that ``mairust up``'s own, each deployed as the platform deploys its
    API and plugins (one replica, no CPU reserved, at most 64 requests at once); yields
    their handles, and deletes them and leaves Ray after."""
    with ray_of(mairust_pid):
        from ray import serve  # after ray_of: Ray's settings come first

        deployed: list[str] = []
        try:
            handles = []
            for app in apps:
                deployment: Any = serve.deployment(
                    name=app.name,
                    num_replicas=1,
                    ray_actor_options={"num_cpus": 0},
                    max_ongoing_requests=64,
                    logging_config={"log_level": "WARNING"},
                )(app.make())
                deployed.append(f"bench-{app.name}")
                handles.append(
                    serve.run(
                        deployment.bind(), name=f"bench-{app.name}", route_prefix=app.route_prefix
                    )
                )
            yield handles
        finally:
            for name in deployed:
                with contextlib.suppress(Exception):  # the platform may already be stopping
                    serve.delete(name)


@contextlib.contextmanager
def yardstick_app(
    mairust_pid: int, app_class: type, name: str, route_prefix: str | None = None
) -> Iterator[Any]:
    """``app_class`` alone as a yardstick (:func:`yardstick_apps`); yields its handle."""
    with yardstick_apps(mairust_pid, [Yardstick(lambda: app_class, name, route_prefix)]) as [
        handle
    ]:
        yield handle
