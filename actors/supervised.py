"""Background loops of actors run under the core's Supervisor; a loop that gave up takes
its actor down so that Ray restarts it.

A restart in place (same process, same store connections) is the supervisor's job.
When that keeps failing, what is left is a fresh process: the actor exits with a
non-zero code, which Ray counts as a crash and answers with a restart (every actor
here has ``max_restarts=-1``). ``ray.actor.exit_actor()`` would be the wrong tool: Ray
treats it as an intentional exit and does not restart the actor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from mairust.supervision import LoopGaveUp, LoopState, Supervisor

_log = logging.getLogger(__name__)

# EX_SOFTWARE: an internal error; any non-zero code makes Ray restart the actor.
EXIT_CODE = 70


def exit_for_restart(loop_name: str) -> None:
    """End this actor's process at once so that Ray starts it again."""
    _log.critical("%s gave up: exiting the actor process for Ray to restart it", loop_name)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    # os._exit, not sys.exit: in an async actor SystemExit would only end this task.
    os._exit(EXIT_CODE)


def start_supervised(
    supervisor: Supervisor, on_give_up: Callable[[str], None] = exit_for_restart
) -> asyncio.Task[None]:
    """Run ``supervisor`` as a task of the running loop; ``on_give_up`` when it gives up."""

    async def supervised() -> None:
        try:
            await supervisor.run()
        except LoopGaveUp:
            on_give_up(supervisor.name)

    return asyncio.get_running_loop().create_task(supervised(), name=supervisor.name)


def loop_report(state: LoopState) -> dict[str, Any]:
    """A supervisor's state as plain data for an actor's stats()."""
    return {
        "running": state.running,
        "gave_up": state.gave_up,
        "restarts": state.restarts,
        "failures_in_a_row": state.failures_in_a_row,
        "last_error": state.last_error,
        "seconds_since_progress": state.seconds_since_progress,
    }
