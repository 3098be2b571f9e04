"""Run the plugins bound to one synchronous hook point: all at once, under one deadline.

Each binding's plugin is called in parallel with a request built for its scopes; what
answers in time is read through its permissions; a timeout gives the binding's
``on_timeout`` verdict, an error (or a plugin its circuit breaker sheds) its ``on_error``.
The most severe enforced verdict wins, ties by priority (lower first); ``shadow`` bindings
are called and recorded beside it, never applied. Every call becomes a ``CallRecord``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mairust.hooks.breaker import CircuitBreaker
from mairust.hooks.permissions import HookPermission, verdict_of
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.verdict import Verdict, VerdictKind, most_severe

_log = logging.getLogger(__name__)


class FailurePolicy(enum.StrEnum):
    """What a plugin that times out or fails stands for (its manifest says)."""

    ACCEPT = "accept"  # no opinion: the others decide
    TEMPFAIL = "tempfail"
    REJECT = "reject"


class BindingMode(enum.StrEnum):
    ENFORCE = "enforce"
    SHADOW = "shadow"  # called and recorded, never applied


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    TIMEOUT = "timeout"
    ERROR = "error"
    SHED = "shed"  # its circuit breaker is open


@dataclass(frozen=True, slots=True)
class Binding:
    plugin: str
    point: HookPoint
    priority: int = 100
    mode: BindingMode = BindingMode.ENFORCE
    scopes: frozenset[DataScope] = frozenset({DataScope.ENVELOPE})
    permissions: frozenset[HookPermission] = frozenset()
    on_timeout: FailurePolicy = FailurePolicy.ACCEPT
    on_error: FailurePolicy = FailurePolicy.ACCEPT
    # The plugin's own time limit (its manifest's); the point's deadline holds anyway.
    timeout_seconds: float | None = None


class PluginCall(Protocol):
    """Reaches a binding's plugin over its transport."""

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse: ...


@dataclass(frozen=True, slots=True)
class CallRecord:
    plugin: str
    point: HookPoint
    mode: BindingMode
    outcome: Outcome
    verdict: Verdict
    latency_ms: float
    dropped: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class ChainResult:
    verdict: Verdict  # what is enforced
    records: tuple[CallRecord, ...]


_FAILURE_KIND = {
    FailurePolicy.ACCEPT: VerdictKind.CONTINUE,
    FailurePolicy.TEMPFAIL: VerdictKind.TEMPFAIL,
    FailurePolicy.REJECT: VerdictKind.REJECT,
}


class HookChain:
    def __init__(
        self,
        call: PluginCall,
        *,
        breaker_for: Callable[[str], CircuitBreaker] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._call = call
        self._breakers: dict[str, CircuitBreaker] = {}
        self._breaker_for = breaker_for or (lambda name: CircuitBreaker(name))
        self._clock = clock

    def breaker(self, plugin: str) -> CircuitBreaker:
        if plugin not in self._breakers:
            self._breakers[plugin] = self._breaker_for(plugin)
        return self._breakers[plugin]

    async def run(
        self,
        bindings: Sequence[Binding],
        request_for: Callable[[Binding], HookRequest],
        deadline_seconds: float,
    ) -> ChainResult:
        """Every binding's verdict within ``deadline_seconds`` (from now) at the latest."""
        ordered = sorted(bindings, key=lambda b: b.priority)
        started = self._clock()
        tasks: dict[Binding, asyncio.Task[HookResponse]] = {}
        records: dict[Binding, CallRecord] = {}
        finished: dict[Binding, float] = {}
        for binding in ordered:
            if not self.breaker(binding.plugin).allows():
                records[binding] = _failure(binding, Outcome.SHED, 0.0, "circuit open")
                continue
            task = asyncio.ensure_future(self._called(binding, request_for))
            task.add_done_callback(self._timer(finished, binding))
            tasks[binding] = task
        if tasks:
            await asyncio.wait(tasks.values(), timeout=max(deadline_seconds, 0.0))
        for binding, task in tasks.items():
            latency = (finished.get(binding, self._clock()) - started) * 1000.0
            breaker = self.breaker(binding.plugin)
            if not task.done():
                task.cancel()
                breaker.failed()
                records[binding] = _failure(binding, Outcome.TIMEOUT, latency, "deadline")
            elif isinstance(task.exception(), TimeoutError):
                breaker.failed()
                records[binding] = _failure(binding, Outcome.TIMEOUT, latency, "its own timeout")
            elif task.exception() is not None:
                breaker.failed()
                error = repr(task.exception())
                _log.warning("plugin %s failed at %s: %s", binding.plugin, binding.point, error)
                records[binding] = _failure(binding, Outcome.ERROR, latency, error)
            else:
                breaker.succeeded()
                judged = verdict_of(task.result(), binding.plugin, binding.permissions)
                if judged.dropped:
                    _log.warning(
                        "plugin %s answered beyond its permissions, dropped: %s",
                        binding.plugin,
                        "; ".join(judged.dropped),
                    )
                records[binding] = CallRecord(
                    binding.plugin,
                    binding.point,
                    binding.mode,
                    Outcome.ANSWERED,
                    judged.verdict,
                    latency,
                    judged.dropped,
                )
        in_order = [records[b] for b in ordered]
        enforced = [r.verdict for r in in_order if r.mode is BindingMode.ENFORCE]
        return ChainResult(most_severe(enforced), tuple(in_order))

    def _timer(
        self, finished: dict[Binding, float], binding: Binding
    ) -> Callable[[asyncio.Task[HookResponse]], None]:
        """A done-callback noting when ``binding``'s call ended (its own latency)."""

        def note(_: asyncio.Task[HookResponse]) -> None:
            finished.setdefault(binding, self._clock())

        return note

    async def _called(
        self, binding: Binding, request_for: Callable[[Binding], HookRequest]
    ) -> HookResponse:
        async with asyncio.timeout(binding.timeout_seconds):
            return await self._call(binding, request_for(binding))


def _failure(binding: Binding, outcome: Outcome, latency_ms: float, error: str) -> CallRecord:
    policy = binding.on_timeout if outcome is Outcome.TIMEOUT else binding.on_error
    verdict = Verdict(
        _FAILURE_KIND[policy], binding.plugin, f"plugin {binding.plugin}: {outcome.value}"
    )
    return CallRecord(
        binding.plugin, binding.point, binding.mode, outcome, verdict, latency_ms, error=error
    )
