"""The ticket-webhook plugin: its manifest (a webhook at post_receive, signed with its
``signing`` secret), its configuration schema, and mail through the platform's webhook
transport with the plugin's own manifest and scopes (real SQLite store): matching mail is
enqueued in the outbox with the ticket payload, other mail is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.hooks.manifest import TransportKind, load_manifest
from mairust.hooks.payload import build_request
from mairust.hooks.points import HookPoint
from mairust.hooks.runtime import _binding_of
from mairust.hooks.webhook_transport import webhook_transport
from mairust.model.plugins import InstalledPlugin
from mairust.model.secrets import SecretPurpose
from mairust.model.verdict import VerdictKind
from mairust.plugin_sdk.testing import test_envelope
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.plugins import config_faults
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.webhooks.signing import generate_secret
from tests.support.sqlite_template import upgrade_to_head_for_test

HERE = Path(__file__).resolve().parents[2] / "plugins" / "ticket_webhook"
CONFIG = {"match": {"recipient": "^support@", "subject": "urgent|outage"}}
MESSAGE = (
    b"From: Ann <ann@remote.test>\r\nSubject: URGENT: mail outage\r\n"
    b"Message-ID: <1@remote.test>\r\n\r\nNothing arrives since noon.\r\n"
)


def test_the_manifest_is_a_signed_webhook_at_post_receive() -> None:
    manifest = load_manifest(HERE)
    assert manifest.transport.kind is TransportKind.WEBHOOK
    assert [hook.point for hook in manifest.hooks] == [HookPoint.POST_RECEIVE]
    assert manifest.transport.auth_secret == "signing" and manifest.secrets == ["signing"]
    assert config_faults(manifest, CONFIG) == []
    assert config_faults(manifest, {}) == []
    assert config_faults(manifest, {"match": {"size": "9"}}) != []
    assert config_faults(manifest, {"match": {"subject": ""}}) != []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    now = datetime.now(UTC)
    manifest = load_manifest(HERE)
    plugin = InstalledPlugin(
        "ticket-webhook", "1.0.0", manifest.model_dump(mode="json"), True, CONFIG, now, now
    )
    opened.add_plugin(plugin)
    sealed = SecretVault(opened, Keyring.from_bytes(b"k" * 32)).create_platform(
        SecretPurpose.PLUGIN, generate_secret().encode()
    )
    opened.set_plugin_secret("ticket-webhook", "signing", sealed.id, now)
    yield opened
    opened.close()


async def post(store: SqlMetadataStore, rcpt: str, message: bytes, message_id: str) -> None:
    plugin = store.get_plugin("ticket-webhook")
    assert plugin is not None
    manifest = load_manifest(HERE)
    binding = _binding_of(HookPoint.POST_RECEIVE, plugin, manifest.hooks[0].mode, 100)
    request = build_request(
        HookPoint.POST_RECEIVE,
        binding.scopes,
        test_envelope((rcpt,)),
        message,
        message_id=message_id,
    )
    answer = await webhook_transport(store)(plugin, manifest)(binding, request)
    assert answer.verdict is VerdictKind.CONTINUE


async def test_matching_mail_is_posted_with_the_ticket_payload(store: SqlMetadataStore) -> None:
    await post(store, "support@example.test", MESSAGE, "m1")
    [delivery] = store.list_plugin_webhook_deliveries("ticket-webhook")
    assert delivery.url == "https://tickets.example.com/hooks/mairust"
    assert delivery.secret_id == store.plugin_secrets("ticket-webhook")["signing"][0]
    body = json.loads(delivery.body)
    assert body["type"] == "hook.post_receive"
    data = body["data"]
    assert (data["message_id"], data["subject"], data["from"]) == (
        "m1",
        "URGENT: mail outage",
        "Ann <ann@remote.test>",
    )
    assert data["envelope"]["rcpt_tos"] == ["support@example.test"]
    assert "Nothing arrives since noon." in data["body_preview"]


async def test_other_mail_is_not_posted(store: SqlMetadataStore) -> None:
    await post(store, "sales@example.test", MESSAGE, "m2")
    await post(store, "support@example.test", MESSAGE.replace(b"URGENT: mail outage", b"hi"), "m3")
    assert store.list_plugin_webhook_deliveries("ticket-webhook") == []
