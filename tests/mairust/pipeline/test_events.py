"""The pipeline's events, written by its settle transaction: a Delivery per stored copy,
a Bounce for a recipient that went away, a TransientFailure then Expiration and Bounce for
a stage that keeps failing; once per row even when a batch is run twice."""

from __future__ import annotations

from mairust.config import QueueSettings
from mairust.events import RecordType
from mairust.model.queue import QueueItem
from mairust.model.scope import PLATFORM
from mairust.pipeline.runner import PipelineRunner

BODY = b"From: s@remote.example\r\nSubject: hi\r\nMessage-ID: <p1@Remote.Example>\r\n\r\nbody\r\n"


def kinds_by_recipient(stores) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in sorted(stores.metadata.list_events(PLATFORM), key=lambda e: (e.at, e.id)):
        found.setdefault(event.recipient, []).append(event.kind.value)
    return found


def test_deliveries_and_bounces_are_recorded_once(stores, settings, spool_message):
    ref = spool_message(BODY, "alice@example.test", "ghost@example.test")
    items = stores.metadata.lease_batch("w1", 10, 60)
    runner = PipelineRunner(stores, settings.queue)
    runner.process(items, "w1")
    runner.process(items, "w1")  # a lost ack: the same batch again, no second story
    assert kinds_by_recipient(stores) == {
        "alice@example.test": ["Delivery"],
        "ghost@example.test": ["Bounce"],
    }
    tenant = stores.metadata.get_domain("example.test").tenant_id
    delivered = stores.metadata.trace_events(PLATFORM, header_message_id="<p1@remote.example>")
    assert sorted(e.kind for e in delivered) == [RecordType.BOUNCE, RecordType.DELIVERY]
    assert {e.tenant_id for e in delivered} == {tenant}
    assert {e.message_id for e in delivered} == {ref.id}
    entry = stores.metadata.list_entries(PLATFORM)[0]
    delivery = next(e for e in delivered if e.kind is RecordType.DELIVERY)
    assert delivery.detail == {"attempts": 1, "entry_ids": [entry.id], "folders": ["INBOX"]}


def test_a_failing_stage_defers_then_expires(stores, spool_message, monkeypatch):
    spool_message(BODY, "alice@example.test")
    runner = PipelineRunner(stores, QueueSettings(max_attempts=2, retry_base_seconds=0.0001))

    def broken(self, works, batch):
        raise RuntimeError("stage bug")

    from mairust.pipeline.stages.parse import ParseStage

    monkeypatch.setattr(ParseStage, "run", broken)
    for _ in range(2):
        items: list[QueueItem] = []
        while not items:
            items = stores.metadata.lease_batch("w1", 10, 60)
        runner.process(items, "w1")
    # The route stage was never reached: the tenant is found from the recipient's domain.
    # (Expiration and Bounce are of one moment: their order within it is not kept.)
    kinds = kinds_by_recipient(stores)["alice@example.test"]
    assert kinds[0] == "TransientFailure"
    assert sorted(kinds[1:]) == ["Bounce", "Expiration"]
