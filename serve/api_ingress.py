"""The REST API as a Ray Serve ingress deployment wrapping the core's FastAPI app.

One replica, no autoscaling (nothing for the controller to recompute every loop), and a
health check every 30 s instead of Serve's 10 s: the embedded platform idles most of the
time, and an unhealthy replica is still replaced within a minute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray import serve

from mairust.config import Settings
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores

HEALTH_CHECK_PERIOD_S = 30.0


@serve.deployment(
    name="api",
    num_replicas=1,
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=64,
    health_check_period_s=HEALTH_CHECK_PERIOD_S,
)
@serve.ingress()
class ApiIngress:
    """Each replica opens its own stores and builds the app at replica start.

    ``replica_setup`` runs first in the replica's process: Serve starts the replica's own
    servers only once this constructor has returned, so it can still change how they bind.
    """

    def __init__(self, settings: Settings, replica_setup: Callable[[], None] | None = None) -> None:
        if replica_setup is not None:
            replica_setup()
        self._settings = settings
        self._stores: Stores = open_stores(settings.storage)

    def __serve_build_asgi_app__(self) -> Any:
        # Imported here, in the replica: the driver that binds this deployment never needs
        # the FastAPI app (its routes and schemas are a good part of a process's start-up).
        from mairust.api import create_app
        from mairust.secrets.master_key import load_keyring

        keyring = load_keyring(self._settings)
        from mairust.hooks.manifest import TransportKind
        from serve.plugin_transport import serve_transport
        from serve.telemetry_source import named_actor_telemetry

        return create_app(
            self._settings,
            self._stores,
            keyring.token_digest_keys(),
            keyring=keyring,
            # Dry runs reach serve plugins as the SMTP edge does.
            hook_transports={TransportKind.SERVE: serve_transport},
            telemetry=named_actor_telemetry,
        )

    def __del__(self) -> None:
        self._stores.close()


def build_api_app(
    settings: Settings,
    replica_setup: Callable[[], None] | None = None,
    log_level: str = "WARNING",
) -> Any:
    """The bound Serve application for ``serve.run``: each replica runs ``replica_setup``
    first and logs at ``log_level`` (Serve's per-request access lines are INFO)."""
    deployment: Any = ApiIngress  # a serve.Deployment once decorated
    return deployment.options(logging_config={"log_level": log_level}).bind(settings, replica_setup)
