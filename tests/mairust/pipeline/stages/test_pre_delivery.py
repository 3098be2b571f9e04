"""Stage ``pre_delivery`` through the whole pipeline over real embedded stores: each verdict
kind's effect on its recipient row, the deadline, bindings that cannot be read, and no
runtime at all (nor any call) while nothing is bound at ``pre_delivery``.

The hook runtime is a stand-in given through ``DeliveryHooks``' factory (the runtime over
a real loopback plugin is exercised in tests/integration/test_e2e_quarantine.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import pytest

from mairust.config import HooksSettings
from mairust.errors import CheckUnavailable, StorageUnavailable
from mairust.events import RecordType
from mairust.hooks.chain import ChainResult
from mairust.hooks.points import HookPoint
from mairust.model.annotations import Annotations
from mairust.model.folders import QUARANTINE
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.queue import QueueState
from mairust.model.scope import PLATFORM
from mairust.model.verdict import CONTINUE, Verdict, VerdictKind
from mairust.pipeline.hook_loop import DeliveryHooks
from mairust.pipeline.runner import BatchReport, PipelineRunner
from mairust.storage.stores import Stores

ALICE, BOB = "alice@example.test", "bob@example.test"
BODY = b"From: s@remote.example\r\nSubject: plans\r\n\r\nbody\r\n"


class Runtime:
    """Answers each row by its recipient; notes what it was asked."""

    def __init__(
        self, verdicts: dict[str, Verdict] | None = None, delay: float = 0.0, error: bool = False
    ) -> None:
        self.verdicts = verdicts or {}
        self.delay = delay
        self.error = error
        self.asked: list[tuple[Envelope, bytes | None, tuple[str, ...], str | None]] = []
        self.closed = False

    async def run(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None = None,
        *,
        tenants: Collection[str] = (),
        message_id: str | None = None,
    ) -> ChainResult:
        assert point is HookPoint.PRE_DELIVERY
        self.asked.append((envelope, message, tuple(tenants), message_id))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error:
            raise CheckUnavailable("the pre_delivery bindings cannot be read")
        [recipient] = envelope.rcpt_tos
        return ChainResult(self.verdicts.get(recipient, CONTINUE), ())

    async def aclose(self) -> None:
        self.closed = True


class Bound:
    """A plugin store with one pre_delivery binding (or one that cannot be read)."""

    def __init__(self, readable: bool = True) -> None:
        self.readable = readable

    def active_bindings(self, point: str) -> list[Any]:
        if not self.readable:
            raise StorageUnavailable("database is down")
        return [("binding", "plugin")] if point == "pre_delivery" else []


@pytest.fixture
def make_hooks() -> Any:
    made: list[DeliveryHooks] = []

    def make(runtime: Runtime, store: Any = None, **settings: float) -> DeliveryHooks:
        hooks = DeliveryHooks(
            store or Bound(),
            HooksSettings(**settings),
            lambda: runtime,
            margin_seconds=0.2,
        )
        made.append(hooks)
        return hooks

    yield make
    for hooks in made:
        hooks.close()


def spool(stores: Stores, *rcpts: str, annotations: Annotations | None = None) -> MessageRef:
    blob = stores.blobs.put(BODY)
    ref = MessageRef(new_id(), blob.size, blob.sha256, blob.key)
    envelope = Envelope("s@remote.example", rcpts, datetime.now(UTC), "client.example", "192.0.2.7")
    record = SpoolRecord(ref, envelope, annotations=annotations or Annotations())
    stores.metadata.commit_messages([record])
    return ref


def run(stores: Stores, settings: Any, hooks: DeliveryHooks | None) -> BatchReport:
    items = stores.metadata.lease_batch("w1", 100, 60)
    return PipelineRunner(stores, settings.queue, hooks=hooks).process(items, "w1")


def rows(stores: Stores) -> dict[str, tuple[QueueState, str | None]]:
    return {i.recipient: (i.state, i.last_error) for i in stores.metadata.list_queue(limit=100)}


def folders(stores: Stores) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        e.mailbox_address: (e.folder, e.tags)
        for e in stores.metadata.list_entries(PLATFORM, limit=100)
    }


def verdict(kind: VerdictKind, **fields: Any) -> Verdict:
    return Verdict(kind, "judge", **fields)


def test_reject_fails_the_row_with_5_7_1_and_the_others_go_on(stores, settings, make_hooks) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.REJECT, reason="not for you")})
    spool(stores, ALICE, BOB)
    report = run(stores, settings, make_hooks(runtime))
    assert (report.delivered, report.failed) == (1, 1)
    state, error = rows(stores)[ALICE]
    assert state is QueueState.FAILED
    assert error == "5.7.1 rejected by judge at pre_delivery: not for you"
    assert folders(stores) == {BOB: ("INBOX", ())}


def test_a_reject_keeps_the_plugins_own_enhanced_code_and_text(
    stores, settings, make_hooks
) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.REJECT, reply="550 5.7.26 unauthenticated")})
    spool(stores, ALICE)
    run(stores, settings, make_hooks(runtime))
    assert rows(stores)[ALICE] == (QueueState.FAILED, "5.7.26 unauthenticated")


def test_tempfail_defers_the_row(stores, settings, make_hooks) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.TEMPFAIL, reason="try later")})
    spool(stores, ALICE)
    report = run(stores, settings, make_hooks(runtime))
    assert report.deferred == 1
    state, error = rows(stores)[ALICE]
    assert state is QueueState.QUEUED
    assert error is not None and error.startswith("4.7.1 deferred by judge")
    assert folders(stores) == {}


def test_discard_ends_the_row_without_a_copy_and_says_so(stores, settings, make_hooks) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.DISCARD, reason="bulk")})
    ref = spool(stores, ALICE, BOB)
    report = run(stores, settings, make_hooks(runtime))
    assert (report.delivered, report.failed, report.deferred) == (2, 0, 0)
    assert rows(stores)[ALICE][0] is QueueState.DONE
    assert folders(stores) == {BOB: ("INBOX", ())}
    [event] = stores.metadata.list_events(PLATFORM, kinds=[RecordType.DISCARD])
    assert (event.message_id, event.recipient) == (ref.id, ALICE)
    assert event.detail is not None and event.detail["by"] == "judge"
    assert event.webhook_type == "message.discarded"


def test_quarantine_holds_the_copy_remembering_its_folder(stores, settings, make_hooks) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.QUARANTINE)})
    ref = spool(stores, ALICE, BOB, annotations=Annotations(folder="Junk", tags=("dmarc",)))
    run(stores, settings, make_hooks(runtime))
    assert folders(stores) == {ALICE: (QUARANTINE, ("dmarc",)), BOB: ("Junk", ("dmarc",))}
    # The release folder is the message's own: where it would have gone.
    assert stores.metadata.message_annotations([ref.id])[ref.id].release_to() == "Junk"


def test_accept_and_continue_apply_folder_and_tags(stores, settings, make_hooks) -> None:
    runtime = Runtime(
        {
            ALICE: verdict(VerdictKind.ACCEPT, annotations=Annotations("Work", ("vip",))),
            BOB: verdict(VerdictKind.CONTINUE, annotations=Annotations(tags=("seen-by-judge",))),
        }
    )
    spool(stores, ALICE, BOB)
    run(stores, settings, make_hooks(runtime))
    assert folders(stores) == {ALICE: ("Work", ("vip",)), BOB: ("INBOX", ("seen-by-judge",))}


def test_mail_held_at_pre_receive_stays_held(stores, settings, make_hooks) -> None:
    runtime = Runtime({ALICE: verdict(VerdictKind.ACCEPT, annotations=Annotations("Work", ("x",)))})
    spool(stores, ALICE, annotations=Annotations().quarantined())
    run(stores, settings, make_hooks(runtime))
    assert folders(stores) == {ALICE: (QUARANTINE, ("x",))}


def test_each_row_is_asked_with_its_own_recipient_and_tenant(stores, settings, make_hooks) -> None:
    runtime = Runtime()
    ref = spool(stores, ALICE, BOB)
    run(stores, settings, make_hooks(runtime))
    tenant = stores.metadata.get_domain("example.test")
    assert tenant is not None
    asked = sorted(runtime.asked, key=lambda a: a[0].rcpt_tos)
    assert [a[0].rcpt_tos for a in asked] == [(ALICE,), (BOB,)]
    for envelope, message, tenants, message_id in asked:
        assert (envelope.mail_from, envelope.helo, envelope.client_ip) == (
            "s@remote.example",
            "client.example",
            "192.0.2.7",
        )
        assert (message, tenants, message_id) == (BODY, (tenant.tenant_id,), ref.id)


def test_a_batch_past_the_deadline_is_deferred_not_delivered(stores, settings, make_hooks) -> None:
    runtime = Runtime(delay=5.0)
    spool(stores, ALICE)
    started = time.monotonic()
    report = run(stores, settings, make_hooks(runtime, deadline_seconds=0.3))
    assert time.monotonic() - started < 2.0  # 0.3 s deadline + 0.2 s margin, not 5 s
    assert report.deferred == 1
    assert "took more than" in (rows(stores)[ALICE][1] or "")
    assert folders(stores) == {}


@pytest.mark.parametrize(
    "broken",
    [
        lambda: (Runtime(), Bound(readable=False)),  # the stage's own look-up
        lambda: (Runtime(error=True), Bound()),  # the runtime's read of the bindings
    ],
)
def test_bindings_that_cannot_be_read_defer_the_rows(
    stores, settings, make_hooks, broken: Callable[[], tuple[Runtime, Bound]]
) -> None:
    runtime, store = broken()
    spool(stores, ALICE)
    report = run(stores, settings, make_hooks(runtime, store))
    assert report.deferred == 1
    assert (rows(stores)[ALICE][1] or "").startswith("4.7.0 pre_delivery")
    assert folders(stores) == {}


def test_nothing_bound_builds_no_runtime_and_calls_nothing(stores, settings) -> None:
    def never() -> Runtime:
        raise AssertionError("no runtime while nothing is bound at pre_delivery")

    # The real store: no plugin is installed, so nothing is bound.
    hooks = DeliveryHooks(stores.metadata, HooksSettings(), never)
    spool(stores, ALICE, BOB)
    report = run(stores, settings, hooks)
    assert report.delivered == 2
    assert not hooks.started
    assert folders(stores) == {ALICE: ("INBOX", ()), BOB: ("INBOX", ())}


def test_without_hooks_the_stage_passes_every_row_on(stores, settings) -> None:
    spool(stores, ALICE)
    assert run(stores, settings, None).delivered == 1


def test_close_lets_the_runtime_record_what_is_left(stores, settings, make_hooks) -> None:
    runtime = Runtime()
    hooks = make_hooks(runtime)
    spool(stores, ALICE)
    run(stores, settings, hooks)
    assert hooks.started
    hooks.close()
    assert runtime.closed and not hooks.started
