"""``POST /api/v1/callbacks/{job}``: a plugin's later answer to a ``post_receive`` job.

The one route besides the password log-in that takes no bearer token: the job's signed,
expiring token (sent to the plugin with the job's request) is the credential, in the
``MaiRust-Callback-Token`` header. Callers are rate-limited by client address, as a token
would be. :class:`~mairust.services.hook_callbacks.HookCallbackService` decides.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, Field

from mairust.api.deps import PUBLIC_MARK, AppDep, client_source
from mairust.api.problems import problem_responses
from mairust.api.rate_limit import RateLimits
from mairust.api.route_threads import PooledRoute
from mairust.hooks.wire import HookResponse

router = APIRouter(route_class=PooledRoute, prefix="/api/v1", tags=["hooks"])

JobId = Annotated[str, Path(min_length=1, max_length=64, description="The hook job's id.")]


class CallbackOut(BaseModel):
    job: str = Field(description="The hook job's id.")
    state: str = Field(description="The job's state: `done` once the callback is taken.")
    verdict: str = Field(description="The verdict recorded (and applied, for enforce).")


async def callback_caller(request: Request) -> None:
    """No bearer token (the job's token is the credential); limited per client address."""
    limits: RateLimits = request.app.state.rate_limits
    limits.check_token(f"callback:{client_source(request)}")


setattr(callback_caller, PUBLIC_MARK, True)


@router.post(
    "/callbacks/{job}",
    response_model=CallbackOut,
    summary="A plugin's later verdict on a post_receive job",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    dependencies=[Depends(callback_caller)],
)
def answer_callback(
    job: JobId,
    body: HookResponse,
    application: AppDep,
    token: Annotated[
        str | None,
        Header(
            alias="MaiRust-Callback-Token",
            max_length=200,
            description="The job's token, as its request gave it (`callback_token`).",
        ),
    ] = None,
) -> CallbackOut:
    """The verdict of a plugin that answered the job `pending`: read through the plugin's
    permissions, recorded, applied to the message's entries (enforce bindings), and the job
    is done. 401 without a token, with a malformed or an expired one; 403 for a token not
    issued for this job; 409 when the job takes no callback (answered already: a replay)."""
    done = application.callbacks.answer(job, token, body)
    verdict = (done.result or {}).get("verdict", "continue")
    return CallbackOut(job=done.id, state=done.state.value, verdict=str(verdict))
