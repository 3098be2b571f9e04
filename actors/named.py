"""A handle to a named actor that travels by name and is looked up on first use.

Passing an actor handle as a constructor argument of an actor that restarts makes Ray
log an error at every start ("has constructor arguments in the object store and
max_restarts > 0"), because a handle argument cannot be rebuilt from lineage. Peers of
``mairust up`` reach each other through this object instead: it pickles as the actor's
name and asks Ray for the handle (``ray.get_actor``) the first time a method is used,
again in a restarted actor.
"""

from __future__ import annotations

from typing import Any

import ray


class NamedActor:
    """Stands in for the handle of the actor registered as ``name``: ``peer.method.remote()``."""

    def __init__(self, name: str, namespace: str | None = None) -> None:
        self.name = name
        self.namespace = namespace
        self._handle: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # pickle and copy probe dunders: never a remote method
            raise AttributeError(attribute)
        if self._handle is None:
            self._handle = ray.get_actor(self.name, namespace=self.namespace)
        return getattr(self._handle, attribute)

    def forget(self) -> None:
        """Drop the cached handle: the next call looks the name up again, so an actor killed
        and made again under the same name is found (a cached handle would stay dead)."""
        self._handle = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "namespace": self.namespace}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.namespace = state["namespace"]
        self._handle = None

    def __repr__(self) -> str:
        return f"NamedActor({self.name!r})"
