"""Webhook actor: an event in a tenant's log reaches the tenant's endpoint (a loopback
receiver the settings allow-list), signed with the secret sealed in the vault; and its
hook job loop runs a post_receive job against a loopback plugin."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import json
import time
from datetime import UTC, datetime

import ray

from actors.webhooks import WebhookActor
from mairust.events import Event, RecordType
from mairust.model.hook_jobs import HookJobState, JobTarget
from mairust.model.ids import new_id
from mairust.model.scope import PlatformScope, TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.webhooks.signing import generate_secret, verify
from tests.support.hook_jobs import deliver, install_job_plugin
from tests.support.http_sink import Reply, http_sink

from .conftest import DOMAIN


def test_an_event_is_published_and_delivered_signed(spawn, world, wait_until):
    world.settings.webhooks.allow_networks = ["127.0.0.1/32"]
    world.settings.webhooks.poll_interval = 0.2
    metadata = world.stores.metadata
    domain = metadata.get_domain(DOMAIN)
    assert domain is not None
    tenant_id = domain.tenant_id
    secret = generate_secret()
    vault = SecretVault(metadata, load_keyring(world.settings))
    ref = vault.create(TenantScope(tenant_id), SecretPurpose.WEBHOOK_SIGNING, secret.encode())
    with http_sink() as sink:
        metadata.add_webhook_endpoint(tenant_id, sink.url(), ref.id)
        event = Event(new_id(), tenant_id, RecordType.DELIVERY, datetime.now(UTC), "q1")
        metadata.append_events([event])
        actor = spawn(WebhookActor, world.settings)
        ray.get(actor.publish_now.remote(), timeout=60)
        [request] = sink.wait_for(1, timeout=30)
    verify(secret, request.headers, request.body, time.time())
    assert b'"message.delivered"' in request.body and event.id.encode() in request.body
    stats = wait_until(
        lambda: (s := ray.get(actor.stats.remote(), timeout=30))["published"] == 1 and s,
        what="published",
    )
    assert stats["drain"]["gave_up"] is False and stats["delivery"]["gave_up"] is False
    assert metadata.unpublished_events(10) == []
    ray.get(actor.stop.remote(), timeout=60)


def test_the_hook_job_loop_runs_post_receive_jobs(spawn, world, wait_until, tmp_path):
    world.settings.hooks.allow_networks = ["127.0.0.1/32"]
    world.settings.hooks.job_poll_interval = 0.2
    metadata = world.stores.metadata
    mailbox = metadata.find_mailbox(world.mailbox())
    assert mailbox is not None
    tag = json.dumps({"verdict": "continue", "tags": ["scanned"]}).encode()
    with http_sink(default=Reply(200, tag)) as plugin:
        install_job_plugin(world.stores, tmp_path, "tagger", plugin.url())
        ref, [entry] = deliver(world.stores, [mailbox])
        metadata.add_hook_jobs("post_receive", [JobTarget(ref.id, mailbox.tenant_id, DOMAIN)])
        actor = spawn(WebhookActor, world.settings)
        wait_until(
            lambda: [j.state for j in metadata.list_hook_jobs(ref.id)] == [HookJobState.DONE],
            what="the job done",
        )
    [found] = metadata.get_entries(PlatformScope(), [entry.id])
    assert found.tags == ("scanned",)
    # The call is recorded (in the runtime's batches: within a second or so).
    [call] = wait_until(lambda: metadata.list_hook_calls("tagger"), what="the call recorded")
    assert (call.point, call.outcome) == ("post_receive", "answered")
    stats = ray.get(actor.stats.remote(), timeout=30)
    assert stats["hook_jobs"]["running"] and not stats["hook_jobs"]["gave_up"]
    assert stats["hook_job_rounds"] >= 1
    ray.get(actor.stop.remote(), timeout=60)
