"""The secrets a plugin's manifest names, under ``/api/v1/admin/plugins/{name}/secrets``
(platform admin only): which are set and since when (never a value), set one, delete one.

Routes parse and present; :class:`~mairust.services.plugin_secrets.PluginSecretService`
decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mairust.api.deps import AppDep, PlatformAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/admin/plugins/{name}/secrets",
    tags=["hooks"],
    responses=problem_responses(401, 403, 404, 503),
)

PluginName = Annotated[str, Path(min_length=1, max_length=64, description="The plugin's name.")]
SecretName = Annotated[
    str, Path(min_length=1, max_length=64, description="A secret its manifest names.")
]


class SecretOut(BaseModel):
    name: str
    declared: bool = Field(description="Its manifest names it (false: left by an older version).")
    set: bool
    set_at: datetime | None


class SecretList(BaseModel):
    items: list[SecretOut]


class SecretValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        min_length=1,
        max_length=65536,
        description="Sealed in the secret store at once; never shown again.",
    )


@router.get("", response_model=SecretList, summary="A plugin's secrets (names only)")
def list_secrets(name: PluginName, principal: PlatformAdmin, application: AppDep) -> SecretList:
    """Every secret the manifest names, whether it is set and since when; no value."""
    states = application.plugin_secrets.states(principal, name)
    return SecretList(
        items=[
            SecretOut(
                name=state.name,
                declared=state.declared,
                set=state.set_at is not None,
                set_at=state.set_at,
            )
            for state in states
        ]
    )


@router.put(
    "/{secret}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422),
    summary="Set one of a plugin's secrets",
)
def set_secret(
    name: PluginName,
    secret: SecretName,
    body: SecretValue,
    principal: PlatformAdmin,
    application: AppDep,
) -> Response:
    """Seals the value in the secret store (the one it replaces is deleted with it). A
    plugin cannot be switched on until every secret its manifest names is set."""
    application.plugin_secrets.set(principal, name, secret, body.value.encode("utf-8"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{secret}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one of its secrets"
)
def delete_secret(
    name: PluginName, secret: SecretName, principal: PlatformAdmin, application: AppDep
) -> Response:
    """The name and the sealed value it held are gone; the plugin cannot be switched on
    again until it is set."""
    application.plugin_secrets.delete(principal, name, secret)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
