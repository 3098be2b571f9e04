"""The API benchmark's yardstick: a trivial Ray Serve application, deployed from the
benchmark into the Ray cluster of a running ``mairust up``, beside its API.

It is no feature of the platform: the benchmark joins the Ray cluster that ``mairust up``
started (found by its GCS port among the processes of that session), ``serve.run``\\ s a
second application under its own route prefix on the same Serve controller and HTTP proxy,
and deletes it before the platform stops. Its one replica is deployed like the API's (no
CPU reserved, the same ``max_ongoing_requests``, its gRPC server kept on 127.0.0.1), so the
difference between the two is MaiRust's own work: FastAPI, auth, the stores.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("load.bench_api")

APP_NAME = "bench-hello"
ROUTE_PREFIX = "/bench-hello"


def gcs_address_of_session(sid: int) -> str | None:
    """``127.0.0.1:PORT`` of the GCS server among the processes of session ``sid``: it
    listens on a port it picked (``--gcs_server_port=0``) and writes that port into its Ray
    session directory, the parent of its ``--log_dir``."""
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


class Hello:
    """Answers every request with ``{"hello": "world"}``."""

    def __init__(self) -> None:
        from cluster.loopback import bind_serve_grpc_to_node_ip

        bind_serve_grpc_to_node_ip()

    async def __call__(self, request: Any) -> dict[str, str]:
        return {"hello": "world"}


@contextlib.contextmanager
def hello_beside(mairust_pid: int) -> Iterator[str]:
    """Join the Ray cluster of the ``mairust up`` whose session leader is ``mairust_pid``,
    run the hello application on its Serve, yield its path; delete it and leave Ray after."""
    # The platform's Ray settings (loopback binding above all), set before Ray is imported.
    import cluster  # noqa: F401

    # `mairust up` starts its Ray with token authentication; a driver joining it needs the
    # same mode (the token is the user's, in ~/.ray/auth_token).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray
    from ray import serve

    address = gcs_address_of_session(mairust_pid)
    if address is None:
        raise RuntimeError(f"no Ray GCS server in the session of pid {mairust_pid}")
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    try:
        deployment: Any = serve.deployment(
            name="hello",
            num_replicas=1,
            ray_actor_options={"num_cpus": 0},
            max_ongoing_requests=64,
            logging_config={"log_level": "WARNING"},
        )(Hello)
        serve.run(deployment.bind(), name=APP_NAME, route_prefix=ROUTE_PREFIX)
        try:
            yield ROUTE_PREFIX
        finally:
            with contextlib.suppress(Exception):  # the platform may already be stopping
                serve.delete(APP_NAME)
    finally:
        ray.shutdown()
