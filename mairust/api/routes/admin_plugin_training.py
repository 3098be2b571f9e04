"""Training a learning plugin, under ``/api/v1/admin/plugins/{name}/train`` (platform admin
only): stored messages, each with a label its manifest declares (``spam``/``ham`` for the
spam filter), become its next trained model, which every replica then runs.

Routes parse and present; :class:`~mairust.services.plugin_training.PluginTraining`
decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from mairust.api.deps import AppDep, PlatformAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.services.plugin_training import MAX_EXAMPLES, Labelled

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/admin/plugins/{name}/train",
    tags=["hooks"],
    responses=problem_responses(401, 403, 404, 503),
)

PluginName = Annotated[str, Path(min_length=1, max_length=64, description="The plugin's name.")]


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(
        min_length=1, max_length=64, description="A stored message (its entry id, as listed)."
    )
    label: str = Field(
        min_length=1, max_length=64, description="One of the labels the plugin learns."
    )


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    examples: list[Example] = Field(min_length=1, max_length=MAX_EXAMPLES)


class TrainedModel(BaseModel):
    plugin: str
    version: int = Field(description="The new state's version; every replica moves to it.")
    examples: int
    created_at: datetime


@router.post(
    "",
    response_model=TrainedModel,
    summary="Train a learning plugin with labelled stored messages",
    responses=problem_responses(409, 422),
)
def train_plugin(
    name: PluginName, body: TrainRequest, principal: PlatformAdmin, application: AppDep
) -> TrainedModel:
    """The messages are read from the body store and shown to the plugin as its hook
    requests show them; its new state is stored as the next version and its replicas are
    rolled onto it within seconds. 422 for a plugin that does not learn, a label it does
    not know or a message not found; 409 when it was trained meanwhile (try again)."""
    examples = [Labelled(e.message_id, e.label) for e in body.examples]
    state = application.training.train(principal, name, examples)
    return TrainedModel(
        plugin=state.plugin,
        version=state.version,
        examples=state.examples,
        created_at=state.created_at,
    )
