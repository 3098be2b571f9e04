"""HookCallbackService over real embedded stores: a waiting job's callback is read through
the plugin's permissions, applied and recorded once; a job that waits for nothing, a
plugin gone since, and a second "pending" are conflicts; tokens are checked first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.errors import Conflict, Forbidden, Unauthenticated
from mairust.hooks.wire import HookResponse
from mairust.model.hook_jobs import HookJob, HookJobState, JobTarget
from mairust.model.scope import PlatformScope
from mairust.model.verdict import VerdictKind
from mairust.services.application import Application
from mairust.storage.stores import Stores
from tests.support.hook_jobs import deliver, install_job_plugin


def job(stores: Stores, tenants, base: Path, wait: bool = True) -> HookJob:
    install_job_plugin(stores, base, "later", "http://127.0.0.1:9/hook")
    ref, _ = deliver(stores, [tenants.alice])
    stores.metadata.add_hook_jobs("post_receive", [JobTarget(ref.id, tenants.a.id, "a.example")])
    [leased] = stores.metadata.lease_hook_jobs("loop/1", 10, 3600)
    if wait:
        until = datetime.now(UTC) + timedelta(hours=1)
        assert stores.metadata.await_hook_callback(leased.id, "loop/1", until)
    return leased


def test_a_callback_is_applied_within_the_permissions_once(
    application: Application, stores: Stores, tenants, tmp_path: Path
) -> None:
    waiting = job(stores, tenants, tmp_path)
    token, _ = application.callbacks.tokens.issue(waiting.id, 60)
    # "reject" needs a permission the plugin lacks: dropped, the tag and the folder kept.
    answer = HookResponse(verdict=VerdictKind.REJECT, tags=["seen"], folder="Later")
    done = application.callbacks.answer(waiting.id, token, answer)
    assert done.state is HookJobState.DONE
    assert done.result == {"verdict": "continue", "tags": ["seen"], "folder": "Later"}
    [entry] = stores.metadata.list_entries(PlatformScope())
    assert entry.tags == ("seen",) and entry.folder == "Later"
    [call] = stores.metadata.list_hook_calls("later")
    assert call.outcome == "callback" and call.dropped
    with pytest.raises(Conflict):
        application.callbacks.answer(waiting.id, token, answer)


def test_refusals(application: Application, stores: Stores, tenants, tmp_path: Path) -> None:
    leased = job(stores, tenants, tmp_path, wait=False)
    token, _ = application.callbacks.tokens.issue(leased.id, 60)
    answer = HookResponse(tags=["x"])
    with pytest.raises(Conflict):  # leased by the loop, not waiting for a callback
        application.callbacks.answer(leased.id, token, answer)
    with pytest.raises(Unauthenticated):
        application.callbacks.answer(leased.id, None, answer)
    other, _ = application.callbacks.tokens.issue("another-job", 60)
    with pytest.raises(Forbidden):
        application.callbacks.answer(leased.id, other, answer)
    until = datetime.now(UTC) + timedelta(hours=1)
    assert stores.metadata.await_hook_callback(leased.id, "loop/1", until)
    with pytest.raises(Conflict):
        application.callbacks.answer(leased.id, token, HookResponse(pending=True))
    stores.metadata.remove_plugin("later")
    with pytest.raises(Conflict):
        application.callbacks.answer(leased.id, token, answer)
    still = stores.metadata.get_hook_job(leased.id)
    assert still is not None and still.state is HookJobState.WAITING
