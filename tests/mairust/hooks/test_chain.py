"""The hook chain: a point's plugins run in parallel under one deadline; a slow plugin gets
its on_timeout verdict and the others are unaffected; the most severe enforced verdict wins,
ties by priority; shadow bindings are recorded, never applied; failures give on_error and
a plugin that keeps failing is shed by its breaker."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from mairust.hooks.breaker import CircuitBreaker
from mairust.hooks.chain import (
    Binding,
    BindingMode,
    FailurePolicy,
    HookChain,
    Outcome,
)
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import HookPoint
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind

ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
ALL = frozenset(HookPermission)


class Plugins:
    """Answers per plugin name: a response after a delay, or an error."""

    def __init__(self, behaviour: dict[str, tuple[float, HookResponse | Exception]]) -> None:
        self.behaviour = behaviour
        self.requests: dict[str, HookRequest] = {}
        self.calls: dict[str, int] = {}

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        self.requests[binding.plugin] = request
        self.calls[binding.plugin] = self.calls.get(binding.plugin, 0) + 1
        delay, answer = self.behaviour[binding.plugin]
        await asyncio.sleep(delay)
        if isinstance(answer, Exception):
            raise answer
        return answer


def request_for(binding: Binding) -> HookRequest:
    return build_request(binding.point, binding.scopes, ENVELOPE)


def bind(plugin: str, **fields) -> Binding:
    return Binding(plugin, HookPoint.RCPT_TO, permissions=fields.pop("permissions", ALL), **fields)


def answer(kind: VerdictKind, reason: str = "") -> HookResponse:
    return HookResponse(verdict=kind, reason=reason)


async def test_parallel_under_one_deadline_the_slow_one_gets_its_on_timeout_verdict() -> None:
    plugins = Plugins(
        {
            "fast": (0.05, answer(VerdictKind.CONTINUE)),
            "also-fast": (0.05, answer(VerdictKind.QUARANTINE, "suspicious")),
            "slow": (5.0, answer(VerdictKind.REJECT)),
        }
    )
    chain = HookChain(plugins)
    bindings = [
        bind("fast"),
        bind("also-fast"),
        bind("slow", on_timeout=FailurePolicy.TEMPFAIL),
    ]
    started = time.monotonic()
    result = await chain.run(bindings, request_for, deadline_seconds=0.5)
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 1.5  # one deadline for all, not one each, not the slow one's 5 s
    by_plugin = {r.plugin: r for r in result.records}
    assert by_plugin["slow"].outcome is Outcome.TIMEOUT
    assert by_plugin["slow"].verdict.kind is VerdictKind.TEMPFAIL
    assert by_plugin["fast"].outcome is Outcome.ANSWERED
    assert by_plugin["also-fast"].verdict.kind is VerdictKind.QUARANTINE
    assert result.verdict.kind is VerdictKind.TEMPFAIL  # the most severe enforced verdict
    assert by_plugin["fast"].latency_ms < 400


async def test_the_most_severe_wins_and_ties_go_by_priority() -> None:
    plugins = Plugins(
        {
            "late": (0.0, answer(VerdictKind.REJECT, "late says no")),
            "early": (0.05, answer(VerdictKind.REJECT, "early says no")),
            "keen": (0.0, answer(VerdictKind.ACCEPT)),
        }
    )
    result = await HookChain(plugins).run(
        [bind("late", priority=50), bind("keen", priority=1), bind("early", priority=10)],
        request_for,
        1.0,
    )
    assert result.verdict.reason == "early says no" and result.verdict.source == "early"
    assert [r.plugin for r in result.records] == ["keen", "early", "late"]


async def test_a_shadow_binding_is_recorded_but_never_applied() -> None:
    plugins = Plugins(
        {
            "new-model": (0.0, answer(VerdictKind.REJECT, "would reject")),
            "current": (0.0, answer(VerdictKind.CONTINUE)),
        }
    )
    result = await HookChain(plugins).run(
        [bind("new-model", mode=BindingMode.SHADOW), bind("current")], request_for, 1.0
    )
    assert result.verdict.kind is VerdictKind.CONTINUE
    [shadow] = [r for r in result.records if r.mode is BindingMode.SHADOW]
    assert shadow.verdict.kind is VerdictKind.REJECT and shadow.outcome is Outcome.ANSWERED


async def test_permissions_bound_what_a_plugin_decides() -> None:
    plugins = Plugins({"tagger": (0.0, answer(VerdictKind.REJECT))})
    result = await HookChain(plugins).run(
        [bind("tagger", permissions=frozenset({HookPermission.TAG}))], request_for, 1.0
    )
    assert result.verdict.kind is VerdictKind.CONTINUE
    assert result.records[0].dropped == ("verdict reject (no reject permission)",)


async def test_errors_give_on_error_and_a_failing_plugin_is_shed() -> None:
    plugins = Plugins({"broken": (0.0, ConnectionError("refused"))})
    clock_now = [0.0]
    chain = HookChain(
        plugins,
        breaker_for=lambda name: CircuitBreaker(
            name, failures_to_open=3, open_seconds=60, clock=lambda: clock_now[0]
        ),
    )
    binding = bind("broken", on_error=FailurePolicy.REJECT)
    records = []
    for _ in range(5):
        result = await chain.run([binding], request_for, 1.0)
        records.append(result.records[0])
        assert result.verdict.kind is VerdictKind.REJECT  # on_error, whether called or shed
    assert [r.outcome for r in records] == [Outcome.ERROR] * 3 + [Outcome.SHED] * 2
    assert "refused" in records[0].error and records[-1].error == "circuit open"
    assert plugins.calls["broken"] == 3  # not called while its circuit is open
    clock_now[0] += 60
    plugins.behaviour["broken"] = (0.0, answer(VerdictKind.CONTINUE))
    recovered = await chain.run([binding], request_for, 1.0)
    assert recovered.records[0].outcome is Outcome.ANSWERED
    assert chain.breaker("broken").opened == 1


async def test_no_bindings_no_opinion() -> None:
    result = await HookChain(Plugins({})).run([], request_for, 1.0)
    assert result.verdict.kind is VerdictKind.CONTINUE and result.records == ()


async def test_each_plugin_gets_the_request_built_for_its_own_scopes() -> None:
    plugins = Plugins({"p": (0.0, answer(VerdictKind.CONTINUE))})
    await HookChain(plugins).run([bind("p")], request_for, 1.0)
    request = plugins.requests["p"]
    assert request.point is HookPoint.RCPT_TO and request.envelope is not None
    assert request.headers is None and request.body_base64 is None


async def test_a_plugins_own_timeout_is_shorter_than_the_deadline() -> None:
    plugins = Plugins({"quick-limit": (1.0, answer(VerdictKind.REJECT))})
    binding = bind("quick-limit", timeout_seconds=0.05, on_timeout=FailurePolicy.TEMPFAIL)
    started = time.monotonic()
    result = await HookChain(plugins).run([binding], request_for, 5.0)
    assert time.monotonic() - started < 1.0
    [record] = result.records
    assert (record.outcome, record.error) == (Outcome.TIMEOUT, "its own timeout")
    assert result.verdict.kind is VerdictKind.TEMPFAIL
