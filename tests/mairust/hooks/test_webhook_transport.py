"""The ``webhook`` transport: its manifest faults (a synchronous point, no signing secret,
no URL), the ``match`` filter, and a call that lands in the one webhook outbox (a real
SQLite store, a real keyring) and goes out through the delivery loop to a real loopback
receiver, signed per Standard Webhooks with the plugin's secret."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.hooks.chain import Binding, BindingMode, FailurePolicy
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import ManifestError, TransportKind, parse_manifest
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.webhook_transport import WebhookPlugin, matches, webhook_transport
from mairust.hooks.wire import EnvelopeView, HookRequest
from mairust.model.plugins import InstalledPlugin
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.host_resolver import system_resolver
from mairust.net.http_client import SafeHttpClient
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.webhooks.delivery import DeliveryPolicy, WebhookDeliveryLoop
from mairust.webhooks.signing import ID_HEADER, generate_secret, verify
from tests.support.http_sink import HttpSink, http_sink
from tests.support.sqlite_template import upgrade_to_head_for_test

SECRET = generate_secret()
MANIFEST = """
scopes = ["envelope", "headers", "body-preview"]
secrets = ["signing"]

[plugin]
name = "tickets"
version = "1.0.0"
description = "Posts support mail to a ticket system."
author = "tests"
license = "MIT"

[transport]
kind = "webhook"
entrypoint = "{url}"
auth_secret = "signing"

[[hooks]]
point = "{point}"
"""
BINDING = Binding(
    "tickets",
    HookPoint.POST_RECEIVE,
    100,
    BindingMode.ENFORCE,
    frozenset({DataScope.ENVELOPE, DataScope.HEADERS, DataScope.BODY_PREVIEW}),
    frozenset(),
    FailurePolicy.ACCEPT,
    FailurePolicy.ACCEPT,
    1.0,
)


def request(
    rcpt: str = "support@example.test", subject: str = "Printer on fire", message_id: str = "m1"
) -> HookRequest:
    return HookRequest(
        point=HookPoint.POST_RECEIVE,
        message_id=message_id,
        scopes=[DataScope.ENVELOPE, DataScope.HEADERS, DataScope.BODY_PREVIEW],
        envelope=EnvelopeView(
            client_ip="192.0.2.1",
            helo="mx.remote.test",
            mail_from="ann@remote.test",
            rcpt_tos=[rcpt],
        ),
        headers=[("From", "Ann <ann@remote.test>"), ("Subject", subject)],
        body_preview="It is really on fire.",
        callback_url="http://127.0.0.1:1/api/v1/callbacks/j1",
        callback_token="not-for-the-receiver",
    )


def test_a_webhook_plugin_is_refused_at_a_synchronous_point() -> None:
    with pytest.raises(ManifestError) as refused:
        parse_manifest(MANIFEST.format(url="https://t.example/in", point="pre_receive"))
    assert refused.value.faults == [
        "hooks[0].point: a webhook plugin cannot give a verdict (its call is delivered "
        "later), so it runs only at asynchronous points (post_receive), not at pre_receive"
    ]
    manifest = parse_manifest(MANIFEST.format(url="https://t.example/in", point="post_receive"))
    assert manifest.transport.kind is TransportKind.WEBHOOK


def test_a_webhook_plugin_needs_a_url_and_a_signing_secret() -> None:
    text = MANIFEST.format(url="tickets:plugin", point="post_receive").replace(
        'auth_secret = "signing"\n', ""
    )
    with pytest.raises(ManifestError) as refused:
        parse_manifest(text)
    assert refused.value.faults == [
        "transport.entrypoint: a webhook plugin's entrypoint is its http(s) URL",
        "transport.auth_secret: a webhook plugin names the secret its calls are signed with "
        "(one of its secrets)",
    ]


def test_the_match_filter() -> None:
    assert matches(request(), {})
    assert matches(request(), {"match": {"recipient": "^support@", "subject": "fire"}})
    assert not matches(request(), {"match": {"recipient": "^sales@"}})
    assert not matches(request(subject="Lunch?"), {"match": {"subject": "fire|smoke"}})
    # from: the envelope sender or the From field.
    assert matches(request(), {"match": {"from": "^Ann <"}})
    assert matches(request(), {"match": {"from": "^ann@remote"}})
    assert not matches(request(), {"match": {"from": "bob@"}})
    # Case-insensitive search.
    assert matches(request(), {"match": {"subject": "PRINTER"}})
    with pytest.raises(PluginFailed, match="not a regular expression"):
        matches(request(), {"match": {"subject": "("}})
    with pytest.raises(PluginFailed, match="a table of recipient, subject, from"):
        matches(request(), {"match": {"size": "1"}})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


@pytest.fixture
def receiver() -> Iterator[HttpSink]:
    with http_sink() as sink:
        yield sink


@pytest.fixture
def vault(store: SqlMetadataStore) -> SecretVault:
    return SecretVault(store, Keyring.from_bytes(b"k" * 32))


def install(
    store: SqlMetadataStore, vault: SecretVault, url: str, config: dict[str, object]
) -> None:
    now = datetime.now(UTC)
    manifest = parse_manifest(MANIFEST.format(url=url, point="post_receive"))
    store.add_plugin(
        InstalledPlugin(
            "tickets", "1.0.0", manifest.model_dump(mode="json"), True, config, now, now
        )
    )
    ref = vault.create_platform(SecretPurpose.PLUGIN, SECRET.encode())
    store.set_plugin_secret("tickets", "signing", ref.id, now)


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    http = SafeHttpClient(AddressPolicy.allowing(["127.0.0.1/32"]), system_resolver)
    yield http
    await http.aclose()


async def test_a_call_is_enqueued_then_delivered_signed(
    store: SqlMetadataStore, vault: SecretVault, receiver: HttpSink, client: SafeHttpClient
) -> None:
    install(store, vault, receiver.url("/tickets"), {"match": {"subject": "fire"}})
    nudged: list[int] = []
    plugin = webhook_transport(store, lambda: nudged.append(1))(
        store.get_plugin("tickets"),  # type: ignore[arg-type]
        parse_manifest(MANIFEST.format(url=receiver.url("/tickets"), point="post_receive")),
    )
    answer = await plugin(BINDING, request())
    assert answer.verdict is VerdictKind.CONTINUE and not answer.pending
    # Called again (a job leased twice): still one delivery. Not matching: none.
    await plugin(BINDING, request())
    await plugin(BINDING, request(subject="Lunch?", message_id="m2"))
    assert nudged == [1, 1]
    [delivery] = store.list_plugin_webhook_deliveries("tickets")
    assert delivery.event_id == "post_receive:m1" and delivery.tenant_id is None

    def secret_for(tenant_id: str | None, secret_id: str) -> str:
        scope = PLATFORM if tenant_id is None else TenantScope(tenant_id)
        return vault.reveal(scope, secret_id).decode()

    loop = WebhookDeliveryLoop(store, client, secret_for, "test-loop", DeliveryPolicy())
    assert (await loop.deliver_due()).delivered == 1
    [seen] = receiver.wait_for(1)
    assert seen.path == "/tickets"
    assert verify(SECRET, seen.headers, seen.body, time.time()) == delivery.id
    assert seen.headers[ID_HEADER] == delivery.id
    body = json.loads(seen.body)
    assert body["type"] == "hook.post_receive"
    data = body["data"]
    assert (data["plugin"], data["message_id"], data["subject"]) == (
        "tickets",
        "m1",
        "Printer on fire",
    )
    assert data["from"] == "Ann <ann@remote.test>"
    assert data["envelope"]["rcpt_tos"] == ["support@example.test"]
    assert data["body_preview"] == "It is really on fire."
    assert "callback_token" not in data and "callback_url" not in data


async def test_without_its_secret_a_call_fails_and_enqueues_nothing(
    store: SqlMetadataStore, vault: SecretVault
) -> None:
    install(store, vault, "https://t.example/in", {})
    store.delete_plugin_secret("tickets", "signing")
    with pytest.raises(PluginFailed, match="signing secret 'signing' is not set"):
        await WebhookPlugin(store, "tickets")(BINDING, request())
    with pytest.raises(PluginFailed, match="is not installed"):
        await WebhookPlugin(store, "other")(BINDING, request())
    assert store.list_plugin_webhook_deliveries("tickets") == []
