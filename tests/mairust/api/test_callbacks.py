"""``POST /api/v1/callbacks/{job}``: a plugin's later verdict on a post_receive job, with
the job's token and no bearer token. A valid callback is applied once (the entry is
tagged, the job done); a replay is 409, a forged token 403, an expired, malformed or
missing one 401, every refusal a problem document; the rate limit applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mairust.api import create_app
from mairust.api.rate_limit import RateLimits
from mairust.config import Settings
from mairust.hooks.callbacks import CallbackTokens
from mairust.model.hook_jobs import HookJob, HookJobState, JobTarget
from mairust.model.ids import new_id
from mairust.model.mailbox import MailboxEntry
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import TOKEN_KEYS
from tests.support.hook_jobs import deliver, install_job_plugin

HEADER = "MaiRust-Callback-Token"
TAGGED = {"verdict": "continue", "tags": ["reviewed"]}
# Never called: the test plays the job loop's part.
NOWHERE = "http://127.0.0.1:9/hook"


def waiting_job(stores: Stores, base: Path) -> tuple[HookJob, MailboxEntry]:
    """A job of a tagging plugin that answered "pending", as the job loop leaves it."""
    tenant = stores.metadata.create_tenant("a.example")
    stores.metadata.add_domain("a.example", tenant.id)
    mailbox = stores.metadata.add_mailbox("ann@a.example")
    install_job_plugin(stores, base, "later", NOWHERE)
    ref, [entry] = deliver(stores, [mailbox])
    stores.metadata.add_hook_jobs("post_receive", [JobTarget(ref.id, tenant.id, "a.example")])
    [job] = stores.metadata.lease_hook_jobs(f"test/{new_id()}", 10, 3600)
    until = datetime.now(UTC) + timedelta(hours=1)
    assert stores.metadata.await_hook_callback(job.id, job.lease_owner or "", until)
    return job, entry


def tokens(app: FastAPI) -> CallbackTokens:
    found: CallbackTokens = app.state.application.callbacks.tokens
    return found


async def test_a_valid_callback_is_applied_once_and_a_replay_refused(
    app, stores, connect, tmp_path, expect_problem
):
    job, entry = waiting_job(stores, tmp_path)
    token, _ = tokens(app).issue(job.id, 600)
    async with connect() as anonymous:  # no bearer token: the job's token is the credential
        answered = await anonymous.post(
            f"/api/v1/callbacks/{job.id}", json=TAGGED, headers={HEADER: token}
        )
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"job": job.id, "state": "done", "verdict": "continue"}
        replayed = await anonymous.post(
            f"/api/v1/callbacks/{job.id}",
            json={"verdict": "continue", "tags": ["again"]},
            headers={HEADER: token},
        )
        problem = expect_problem(replayed, 409)
        assert problem["type"] == "urn:mairust:problem:conflict"
    async with connect("t") as admin:
        shown = await admin.get(f"/api/v1/messages/{entry.id}")
    assert shown.status_code == 200 and shown.json()["tags"] == ["reviewed"]
    done = stores.metadata.get_hook_job(job.id)
    assert done is not None and done.state is HookJobState.DONE
    assert done.result == {"verdict": "continue", "tags": ["reviewed"], "folder": None}
    [call] = stores.metadata.list_hook_calls("later")
    assert (call.outcome, call.point) == ("callback", "post_receive")


async def test_missing_malformed_expired_and_forged_tokens_are_refused(
    app, stores, connect, tmp_path, expect_problem
):
    job, entry = waiting_job(stores, tmp_path)
    expired, _ = tokens(app).issue(job.id, -5)
    other_job, _ = tokens(app).issue(new_id(), 600)
    valid, expires = tokens(app).issue(job.id, 600)
    stretched = f"{expires + 86400}.{valid.partition('.')[2]}"
    url = f"/api/v1/callbacks/{job.id}"
    async with connect() as anonymous:
        for headers, status in (
            ({}, 401),
            ({HEADER: "not-a-token"}, 401),
            ({HEADER: expired}, 401),
            ({HEADER: other_job}, 403),
            ({HEADER: stretched}, 403),
        ):
            refused = await anonymous.post(url, json=TAGGED, headers=headers)
            expect_problem(refused, status)
        # A bearer token of the API is no job token either.
        bearer = await anonymous.post(url, json=TAGGED, headers={"Authorization": "Bearer t"})
        expect_problem(bearer, 401)
    # Nothing was applied, the job still waits.
    waiting = stores.metadata.get_hook_job(job.id)
    assert waiting is not None and waiting.state is HookJobState.WAITING
    async with connect("t") as admin:
        shown = await admin.get(f"/api/v1/messages/{entry.id}")
    assert shown.json()["tags"] == []


async def test_a_job_that_takes_no_callback_and_bad_bodies(
    app, stores, connect, tmp_path, expect_problem
):
    job, _ = waiting_job(stores, tmp_path)
    token, _ = tokens(app).issue(job.id, 600)
    unknown = new_id()
    unknown_token, _ = tokens(app).issue(unknown, 600)
    async with connect() as anonymous:
        expect_problem(
            await anonymous.post(
                f"/api/v1/callbacks/{unknown}", json=TAGGED, headers={HEADER: unknown_token}
            ),
            404,
        )
        url = f"/api/v1/callbacks/{job.id}"
        expect_problem(
            await anonymous.post(url, json={"verdict": "maybe"}, headers={HEADER: token}), 422
        )
        expect_problem(
            await anonymous.post(url, json={"pending": True}, headers={HEADER: token}), 409
        )
        # Still waiting after those: the good answer is taken.
        good = await anonymous.post(url, json=TAGGED, headers={HEADER: token})
        assert good.status_code == 200


@pytest.mark.in_process_only("a token bucket of two requests, on an app of its own")
async def test_callbacks_are_rate_limited_per_client_address(stores, tmp_path, expect_problem):
    settings = Settings(
        data_dir=tmp_path, api={"rate_limit_per_second": 0.001, "rate_limit_burst": 2}
    )
    app = create_app(settings, stores, TOKEN_KEYS)
    app.state.rate_limits = RateLimits.from_settings(settings.api)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(2):
            expect_problem(await http.post(f"/api/v1/callbacks/{new_id()}", json=TAGGED), 401)
        refused = await http.post(f"/api/v1/callbacks/{new_id()}", json=TAGGED)
        expect_problem(refused, 429)
        assert refused.headers["Retry-After"]
