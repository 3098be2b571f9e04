"""The hook job loop over real embedded stores and a real loopback plugin: an answer is
applied to the message's entries once and recorded, a failure is retried with backoff and
then failed, a job whose loop died is leased again, ``pending`` waits for the callback
(and fails when none comes), and shadow bindings are recorded, never applied."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.config import HooksSettings, Settings
from mairust.hooks.callbacks import CallbackTokens, callback_key
from mairust.hooks.jobs import HookJobLoop, JobPolicy, callback_urls
from mairust.hooks.runtime import HookRuntime
from mairust.model.folders import QUARANTINE
from mairust.model.hook_jobs import HookJobState, JobEffect, JobTarget
from mairust.model.scope import PlatformScope
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import SafeHttpClient
from mairust.storage.factory import open_stores
from mairust.storage.stores import Stores
from tests.support.hook_jobs import RAW, deliver, install_job_plugin
from tests.support.http_sink import Reply, http_sink
from tests.support.sqlite_template import migrate_for_test

TOKENS = CallbackTokens([callback_key(b"k" * 32)])
URLS = callback_urls("", "127.0.0.1", 8000)
TAG = json.dumps({"verdict": "continue", "tags": ["scanned", "ok"]}).encode()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    settings = Settings(data_dir=tmp_path / "data")
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("a")
    opened.metadata.add_domain("a.example", tenant.id)
    opened.metadata.add_mailbox("ann@a.example")
    opened.metadata.add_mailbox("al@a.example")
    yield opened
    opened.close()


def make_loop(stores: Stores, policy: JobPolicy, identity: str = "node-1") -> HookJobLoop:
    client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
    runtime = HookRuntime(
        stores.metadata, client, HooksSettings(), record_batch=1000, record_seconds=0.01
    )
    return HookJobLoop(stores.metadata, stores.blobs, runtime, TOKENS, identity, URLS, policy)


def delivered(stores: Stores):
    mailboxes = [stores.metadata.find_mailbox(a) for a in ("ann@a.example", "al@a.example")]
    ref, entries = deliver(stores, [m for m in mailboxes if m is not None])
    stores.metadata.add_hook_jobs("post_receive", [_target(ref.id, e.tenant_id) for e in entries])
    return ref, entries


def _target(message_id: str, tenant_id: str) -> JobTarget:
    return JobTarget(message_id, tenant_id, "a.example")


def entries_of(stores: Stores, entries):
    return stores.metadata.get_entries(PlatformScope(), [e.id for e in entries])


async def settle_records(loop: HookJobLoop) -> None:
    await loop.runtime.aclose()  # the batched call records, written


async def test_an_answer_is_applied_once_and_recorded(stores: Stores, tmp_path: Path) -> None:
    with http_sink(default=Reply(200, TAG)) as plugin:
        install_job_plugin(stores, tmp_path, "tagger", plugin.url())
        ref, entries = delivered(stores)
        loop = make_loop(stores, JobPolicy())
        result = await loop.run_due()
        assert (result.done, result.leased) == (1, 1)
        assert [e.tags for e in entries_of(stores, entries)] == [("scanned", "ok")] * 2
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.DONE and job.result is not None
        assert job.result["tags"] == ["scanned", "ok"]
        # What the plugin was sent: its scopes (envelope, headers), no body, the callback.
        [seen] = plugin.requests
        request = json.loads(seen.body)
        assert request["point"] == "post_receive" and request["message_id"] == ref.id
        assert request["envelope"]["rcpt_tos"] == ["ann@a.example", "al@a.example"]
        assert ["Subject", "hello"] in request["headers"]
        assert request["body_base64"] is None and request["body_preview"] is None
        assert request["callback_url"] == f"http://127.0.0.1:8000/api/v1/callbacks/{job.id}"
        assert TOKENS.check(job.id, request["callback_token"]) > 0
        # Nothing is due any more; running again changes nothing.
        assert (await loop.run_due()).leased == 0
        stores.metadata.add_hook_jobs("post_receive", [_target(ref.id, entries[0].tenant_id)])
        assert [e.tags for e in entries_of(stores, entries)] == [("scanned", "ok")] * 2
        await settle_records(loop)
        [call] = stores.metadata.list_hook_calls("tagger")
        assert (call.point, call.outcome, call.verdict, call.mode) == (
            "post_receive",
            "answered",
            "continue",
            "enforce",
        )


async def test_notes_are_kept_with_the_jobs_result(stores: Stores, tmp_path: Path) -> None:
    noted = json.dumps({"verdict": "continue", "notes": {"summary": "the gist"}}).encode()
    with http_sink(default=Reply(200, noted)) as plugin:
        install_job_plugin(stores, tmp_path, "noter", plugin.url())
        ref, entries = delivered(stores)
        assert (await make_loop(stores, JobPolicy()).run_due()).done == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.result is not None and job.result["notes"] == {"summary": "the gist"}
        assert [e.tags for e in entries_of(stores, entries)] == [(), ()]


async def test_a_full_body_plugin_gets_the_message_from_the_blob_store(
    stores: Stores, tmp_path: Path
) -> None:
    with http_sink(default=Reply(200, TAG)) as plugin:
        install_job_plugin(
            stores, tmp_path, "reader", plugin.url(), scopes=("envelope", "full-body")
        )
        delivered(stores)
        assert (await make_loop(stores, JobPolicy()).run_due()).done == 1
        request = json.loads(plugin.requests[0].body)
        assert base64.b64decode(request["body_base64"]) == RAW
        assert request["headers"] is None


async def test_quarantine_moves_and_shadow_only_records(stores: Stores, tmp_path: Path) -> None:
    quarantine = json.dumps({"verdict": "quarantine", "tags": ["suspect"]}).encode()
    with http_sink(default=Reply(200, quarantine)) as plugin:
        install_job_plugin(stores, tmp_path, "judge", plugin.url())
        install_job_plugin(stores, tmp_path, "trial", plugin.url(), mode="shadow")
        ref, entries = delivered(stores)
        loop = make_loop(stores, JobPolicy())
        assert (await loop.run_due()).done == 2
        assert {(e.folder, e.tags) for e in entries_of(stores, entries)} == {
            (QUARANTINE, ("suspect",))
        }
        jobs = {j.plugin: j for j in stores.metadata.list_hook_jobs(ref.id)}
        assert jobs["trial"].result == {
            "verdict": "quarantine",
            "tags": ["suspect"],
            "folder": QUARANTINE,
        }
        await settle_records(loop)
        assert [c.mode for c in stores.metadata.list_hook_calls("trial")] == ["shadow"]


async def test_only_the_shadow_binding_leaves_the_entries_as_they_were(
    stores: Stores, tmp_path: Path
) -> None:
    quarantine = json.dumps({"verdict": "quarantine", "tags": ["suspect"]}).encode()
    with http_sink(default=Reply(200, quarantine)) as plugin:
        install_job_plugin(stores, tmp_path, "trial", plugin.url(), mode="shadow")
        ref, entries = delivered(stores)
        assert (await make_loop(stores, JobPolicy()).run_due()).done == 1
        assert {(e.folder, e.tags) for e in entries_of(stores, entries)} == {("INBOX", ())}
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.DONE and job.result["verdict"] == "quarantine"  # type: ignore[index]


def test_the_retry_delay_doubles_up_to_its_cap() -> None:
    policy = JobPolicy(retry_base_seconds=10, retry_max_seconds=35)
    assert [policy.retry_delay(n) for n in (1, 2, 3, 4, 50)] == [10, 20, 35, 35, 35]
    settings = HooksSettings(job_max_attempts=3, job_retry_base_seconds=2, callback_token_seconds=9)
    policy = JobPolicy.from_settings(settings)
    assert (policy.max_attempts, policy.retry_base_seconds, policy.callback_seconds) == (3, 2, 9)


async def test_errors_are_retried_with_backoff_then_failed(stores: Stores, tmp_path: Path) -> None:
    with http_sink(default=Reply(500, b"down")) as plugin:
        install_job_plugin(stores, tmp_path, "flaky", plugin.url())
        ref, entries = delivered(stores)
        policy = JobPolicy(max_attempts=3, retry_base_seconds=0.2, retry_max_seconds=10)
        loop = make_loop(stores, policy)
        before = datetime.now(UTC)
        assert (await loop.run_due()).deferred == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.PENDING and job.attempts == 1
        assert "HTTP 500" in (job.last_error or "")
        delay = job.next_attempt_at - before
        assert timedelta(seconds=0.2) <= delay < timedelta(seconds=1.2)
        assert (await loop.run_due()).leased == 0  # not due yet
        await asyncio.sleep(0.3)
        assert (await loop.run_due()).deferred == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        second = job.next_attempt_at - datetime.now(UTC)
        assert timedelta(seconds=0.2) < second <= timedelta(seconds=0.4)  # doubled
        await asyncio.sleep(0.45)
        assert (await loop.run_due()).failed == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.FAILED and job.attempts == 3
        assert (job.last_error or "").startswith("gave up after 3 attempts")
        assert len(plugin.requests) == 3
        assert {e.tags for e in entries_of(stores, entries)} == {()}
        await settle_records(loop)
        calls = stores.metadata.list_hook_calls("flaky")
        assert [c.outcome for c in calls] == ["error"] * 3


async def test_a_plugin_too_slow_is_a_timeout_retried(stores: Stores, tmp_path: Path) -> None:
    with http_sink(Reply(200, TAG, delay=1.0), default=Reply(200, TAG)) as plugin:
        install_job_plugin(stores, tmp_path, "slow", plugin.url(), call_ms=300)
        ref, entries = delivered(stores)
        loop = make_loop(stores, JobPolicy(retry_base_seconds=0.1))
        assert (await loop.run_due()).deferred == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert "in time" in (job.last_error or "")
        await asyncio.sleep(0.2)
        assert (await loop.run_due()).done == 1
        assert {e.tags for e in entries_of(stores, entries)} == {("scanned", "ok")}
        await settle_records(loop)
        assert [c.outcome for c in stores.metadata.list_hook_calls("slow")] == [
            "answered",
            "timeout",
        ]


async def test_a_dead_loops_job_is_leased_again_and_applied_once(
    stores: Stores, tmp_path: Path
) -> None:
    with http_sink(default=Reply(200, TAG)) as plugin:
        install_job_plugin(stores, tmp_path, "tagger", plugin.url())
        ref, entries = delivered(stores)
        # A loop leased it and died (kill -9): its lease runs out.
        # A lease long enough that a loaded machine still sees it held, then expired.
        [held] = stores.metadata.lease_hook_jobs("node-0/dead", 10, 2.0)
        loop = make_loop(stores, JobPolicy())
        assert (await loop.run_due()).leased == 0  # still held
        await asyncio.sleep(2.1)
        assert (await loop.run_due()).done == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.id == held.id and job.attempts == 2 and job.state is HookJobState.DONE
        # The dead loop, come back, cannot settle it a second time.
        assert not stores.metadata.finish_hook_job(held.id, "node-0/dead", JobEffect("x", ("2",)))
        assert {e.tags for e in entries_of(stores, entries)} == {("scanned", "ok")}


async def test_a_restarted_loop_takes_its_predecessors_leases_back_at_once(
    stores: Stores, tmp_path: Path
) -> None:
    with http_sink(default=Reply(200, TAG)) as plugin:
        install_job_plugin(stores, tmp_path, "tagger", plugin.url())
        ref, _ = delivered(stores)
        stores.metadata.lease_hook_jobs("node-1/before-restart", 10, 3600)
        loop = make_loop(stores, JobPolicy(poll_interval=0.05), identity="node-1")
        supervisor = loop.supervisor()
        task = asyncio.ensure_future(supervisor.run())
        try:
            for _ in range(100):
                [job] = stores.metadata.list_hook_jobs(ref.id)
                progressed = supervisor.state.seconds_since_progress is not None
                if job.state is HookJobState.DONE and progressed:
                    break
                await asyncio.sleep(0.05)
            # Done long before the hour-long lease of the run before the restart ran out.
            assert job.state is HookJobState.DONE and job.attempts == 2
            assert supervisor.state.running and progressed
        finally:
            loop.stop()
            supervisor.stop()
            await asyncio.wait_for(task, 5)


async def test_pending_waits_for_the_callback_and_fails_without_one(
    stores: Stores, tmp_path: Path
) -> None:
    pending = json.dumps({"pending": True}).encode()
    with http_sink(default=Reply(200, pending)) as plugin:
        install_job_plugin(stores, tmp_path, "later", plugin.url())
        ref, entries = delivered(stores)
        # A window long enough that a loaded machine still sees the job waiting in it.
        loop = make_loop(stores, JobPolicy(callback_seconds=3))
        started = datetime.now(UTC)
        assert (await loop.run_due()).waiting == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.WAITING and job.callback_until is not None
        assert started < job.callback_until <= datetime.now(UTC) + timedelta(seconds=3)
        request = json.loads(plugin.requests[0].body)
        expires = TOKENS.check(job.id, request["callback_token"])
        assert datetime.fromtimestamp(expires, UTC) == job.callback_until
        assert (await loop.run_due()).leased == 0  # waiting is not leased again
        await asyncio.sleep(max(0.0, (job.callback_until - datetime.now(UTC)).total_seconds()))
        result = await loop.run_due()
        assert result.expired == 1
        [job] = stores.metadata.list_hook_jobs(ref.id)
        assert job.state is HookJobState.FAILED and "callback" in (job.last_error or "")
        assert {e.tags for e in entries_of(stores, entries)} == {()}
        await settle_records(loop)
        outcomes = [c.outcome for c in stores.metadata.list_hook_calls("later")]
        assert outcomes == ["timeout", "pending"]


async def test_a_job_of_an_uninstalled_plugin_fails(stores: Stores, tmp_path: Path) -> None:
    install_job_plugin(stores, tmp_path, "gone", "http://127.0.0.1:9/hook")
    ref, _ = delivered(stores)
    stores.metadata.remove_plugin("gone")
    assert (await make_loop(stores, JobPolicy()).run_due()).failed == 1
    [job] = stores.metadata.list_hook_jobs(ref.id)
    assert "not installed" in (job.last_error or "")


def test_callback_urls() -> None:
    assert callback_urls("", "0.0.0.0", 80)("j") == "http://127.0.0.1:80/api/v1/callbacks/j"
    assert callback_urls("", "::1", 81)("j") == "http://[::1]:81/api/v1/callbacks/j"
    assert callback_urls("https://mx.example/", "x", 1)("j") == (
        "https://mx.example/api/v1/callbacks/j"
    )
