"""The REST API as a Ray Serve ingress deployment wrapping the core's FastAPI app."""

from __future__ import annotations

from typing import Any

from ray import serve

from mairust.api import create_app
from mairust.config import Settings
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores


@serve.deployment(name="api", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
@serve.ingress()
class ApiIngress:
    """Each replica opens its own stores and builds the app at replica start."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stores: Stores = open_stores(settings.storage)

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self._settings, self._stores)

    def __del__(self) -> None:
        self._stores.close()


def build_api_app(settings: Settings, runtime_env: dict[str, Any] | None = None) -> Any:
    """The bound Serve application for ``serve.run``."""
    deployment: Any = ApiIngress  # a serve.Deployment once decorated
    if runtime_env:
        deployment = deployment.options(
            ray_actor_options={"num_cpus": 0, "runtime_env": runtime_env}
        )
    return deployment.bind(settings)
