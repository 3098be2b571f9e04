"""The hook points at work in one process: the bindings read from the store (kept for
``hooks.bindings_cache_seconds``, so a change applies without a restart), each plugin
reached by its transport, and a point's chain run under ``hooks.deadline_seconds``.

A binding with a tenant or domain filter runs only for mail to that tenant or domain. When
the bindings cannot be read and none were read before, the point cannot be decided:
``CheckUnavailable`` (the SMTP edge answers 451), never "no hooks, go on".

Every call is recorded (``hook_calls``) in batches off the transaction's path: at
``RECORD_BATCH`` calls or ``RECORD_SECONDS`` after the first unrecorded one, whichever
comes first, written in a thread; a batch the store refuses is logged and dropped (the
mail does not wait for its bookkeeping). The store adds each batch to the plugins' running
totals (their metrics) in the same transaction.

Each plugin's circuit breaker reports its openings and closings to the store under this
runtime's ``holder`` (role, host and process), off the transaction's path, so the API can
say which processes shed a plugin; a graceful stop takes the reports back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from mairust.config import HooksSettings, Settings
from mairust.errors import CheckUnavailable, MairustError, StorageUnavailable
from mairust.hooks.breaker import BreakerState, CircuitBreaker
from mairust.hooks.chain import Binding, BindingMode, ChainResult, HookChain, PluginCall
from mairust.hooks.deployment import PluginPackages
from mairust.hooks.grpc_transport import GrpcPlugin
from mairust.hooks.http_transport import HttpPlugin, PluginFailed
from mairust.hooks.manifest import Manifest, TransportKind
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import granted_at
from mairust.hooks.points import HookPoint
from mairust.hooks.rspamd_transport import PROTOCOL as RSPAMD_PROTOCOL
from mairust.hooks.rspamd_transport import RspamdPlugin
from mairust.hooks.stdin_transport import StdinPlugin, stdin_plugin
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.address import domain_of
from mairust.model.ids import new_id
from mairust.model.message import Envelope
from mairust.model.plugins import BreakerReport, HookBinding, HookCall, InstalledPlugin
from mairust.model.verdict import CONTINUE, Verdict
from mairust.net.address_guard import AddressPolicy
from mairust.net.host_resolver import configured_resolver
from mairust.net.http_client import ClientLimits, SafeHttpClient
from mairust.storage.protocols import PluginStore

_log = logging.getLogger(__name__)

RECORD_BATCH = 200
RECORD_SECONDS = 1.0

# Makes the call of one installed plugin over a transport the core does not hold itself
# (``serve``: a Ray Serve handle, built outside the core and injected).
TransportFactory = Callable[[InstalledPlugin, Manifest], PluginCall]


@dataclass(frozen=True, slots=True)
class _Bound:
    binding: Binding
    tenant_id: str | None
    domain: str | None

    def applies(self, envelope: Envelope, tenants: Collection[str]) -> bool:
        if self.tenant_id is not None and self.tenant_id not in tenants:
            return False
        return self.domain is None or any(
            domain_of(rcpt) == self.domain for rcpt in envelope.rcpt_tos
        )


class HookRuntime:
    def __init__(
        self,
        store: PluginStore,
        client: SafeHttpClient,
        settings: HooksSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        record_batch: int = RECORD_BATCH,
        record_seconds: float = RECORD_SECONDS,
        role: str = "hooks",
        secret_values: Callable[[str], dict[str, str]] | None = None,
        transports: Mapping[TransportKind, TransportFactory] | None = None,
        owns_client: bool = False,
        packages: PluginPackages | None = None,
    ) -> None:
        """``owns_client``: ``aclose`` closes ``client`` too. ``secret_values(plugin)``: a
        plugin's secrets (read with its bindings) for an http plugin's ``auth_secret``;
        None: none can be read here. ``transports``: how plugins
        of each kind other than ``http`` are reached (a kind without one fails its calls,
        which get the binding's ``on_error`` verdict). ``packages``: where stdin plugins'
        files are kept (their children start there; without it they cannot be called)."""
        self._factories = dict(transports or {})
        self._packages = packages
        self._retiring: set[asyncio.Future[None]] = set()
        self.holder = f"{role}@{platform.node() or 'localhost'}:{os.getpid()}"
        self._record_batch = record_batch
        self._record_seconds = record_seconds
        self._store = store
        self._client = client
        self._owns_client = owns_client
        self._settings = settings
        self._clock = clock
        self._chain = HookChain(self._call, breaker_for=self._new_breaker, clock=clock)
        self._read: dict[HookPoint, tuple[float, list[_Bound]]] = {}
        self._transports: dict[tuple[str, str, str | None], PluginCall] = {}
        self._installed: dict[str, InstalledPlugin] = {}
        self._secret_values = secret_values
        # The bearer each http plugin is called with, read with the bindings.
        self._bearers: dict[str, str | None] = {}
        self.calls = 0
        self._unrecorded: list[HookCall] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[None]] = set()
        self.recorded = 0
        # Told ``(plugin, latency_ms, verdict)`` of each call as it is made (the host's
        # per-minute figures, mairust.telemetry); None: nobody listens.
        self.call_observer: Callable[[Sequence[tuple[str, float, str]]], None] | None = None

    @property
    def chain(self) -> HookChain:
        return self._chain

    async def run(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None = None,
        *,
        tenants: Collection[str] = (),
        message_id: str | None = None,
        fresh: bool = False,
        record_calls: bool = True,
    ) -> ChainResult:
        """The point's verdict for this mail, within the deadline; ``fresh`` reads the
        bindings now (a dry run shows the chain as bound this moment, and is not recorded:
        ``record_calls`` False)."""
        if fresh:
            self._read.pop(point, None)
        bound = [b.binding for b in await self._bindings(point) if b.applies(envelope, tenants)]
        if not bound:
            return ChainResult(CONTINUE, ())

        def request_for(binding: Binding) -> HookRequest:
            return build_request(point, binding.scopes, envelope, message, message_id=message_id)

        result = await self._chain.run(bound, request_for, self._settings.deadline_seconds)
        self.calls += len(result.records)
        if record_calls:
            self._record(point, result)
        for record in result.records:
            _log.debug(
                "hook %s plugin=%s mode=%s outcome=%s verdict=%s latency_ms=%.1f%s",
                point.value,
                record.plugin,
                record.mode.value,
                record.outcome.value,
                record.verdict.kind.value,
                record.latency_ms,
                f" error={record.error}" if record.error else "",
            )
        return result

    async def decide(
        self,
        point: HookPoint,
        envelope: Envelope,
        message: bytes | None,
        tenants: Collection[str],
    ) -> Verdict:
        """The SMTP edge's ``EdgeHooks``: the point's enforced verdict."""
        return (await self.run(point, envelope, message, tenants=tenants)).verdict

    def job_binding(self, point: HookPoint, plugin: InstalledPlugin, mode: str) -> Binding:
        """An asynchronous job's binding: ``plugin`` as its manifest declares it, at
        ``point`` in ``mode``; :meth:`call` then reaches it by its transport. Blocking (it
        reads the plugin's auth secret, if it has one): call it in a thread."""
        self._installed[plugin.name] = plugin
        self._read_bearer(plugin)
        return _binding_of(point, plugin, BindingMode(mode), 100)

    async def call(self, binding: Binding, request: HookRequest) -> HookResponse:
        """One call of ``binding``'s plugin by its transport (no chain, no deadline: the
        caller, a job loop, sets its own)."""
        return await self._call(binding, request)

    def record_calls(self, calls: Sequence[HookCall]) -> None:
        """Calls made outside a chain (asynchronous jobs), recorded in the same batches."""
        self._observe(calls)
        self._unrecorded.extend(calls)
        self._schedule_flush()

    def _observe(self, calls: Sequence[HookCall]) -> None:
        if self.call_observer is not None and calls:
            self.call_observer([(call.plugin, call.latency_ms, call.verdict) for call in calls])

    def _record(self, point: HookPoint, result: ChainResult) -> None:
        now = datetime.now(UTC)
        made = [
            HookCall(
                new_id(),
                now,
                point.value,
                r.plugin,
                r.mode.value,
                r.outcome.value,
                r.verdict.kind.value,
                r.latency_ms,
                r.error,
                r.dropped,
            )
            for r in result.records
        ]
        self._observe(made)
        self._unrecorded.extend(made)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if len(self._unrecorded) >= self._record_batch:
            self._flush()
        elif self._flush_timer is None:
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(self._record_seconds, self._flush)

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        batch, self._unrecorded = self._unrecorded, []
        if not batch:
            return
        write = asyncio.get_running_loop().run_in_executor(
            None, self._store.record_hook_calls, batch
        )
        self._writes.add(write)
        write.add_done_callback(lambda done: self._written(done, len(batch)))

    def _written(self, write: asyncio.Future[None], count: int) -> None:
        self._writes.discard(write)
        error = write.exception()
        if error is not None:
            _log.warning("%d hook calls not recorded: %r", count, error)
        else:
            self.recorded += count

    async def flush(self) -> None:
        """Record what is unrecorded now, and wait for every write in flight."""
        self._flush()
        if self._writes:
            await asyncio.wait(list(self._writes))

    async def aclose(self) -> None:
        """Record what is left and take back the breaker reports (at a graceful stop)."""
        await self.flush()
        try:
            await asyncio.to_thread(self._store.forget_breakers, self.holder)
        except StorageUnavailable as error:
            _log.warning("breaker reports of %s left in the store: %s", self.holder, error)
        await asyncio.gather(
            *(self._retire(t) for t in list(self._transports.values())), *self._retiring
        )
        if self._owns_client:
            await self._client.aclose()

    def _new_breaker(self, plugin: str) -> CircuitBreaker:
        return CircuitBreaker(plugin, clock=self._clock, on_change=self._breaker_changed)

    def _breaker_changed(self, breaker: CircuitBreaker) -> None:
        """Tell the store, in a thread: the call that tripped it does not wait."""
        state = "closed" if breaker.state is BreakerState.CLOSED else "open"
        report = BreakerReport(
            breaker.name,
            self.holder,
            state,
            datetime.now(UTC),
            breaker.open_seconds,
            breaker.opened,
        )
        write = asyncio.get_running_loop().run_in_executor(None, self._store.report_breaker, report)
        self._writes.add(write)
        write.add_done_callback(self._breaker_reported)

    def _breaker_reported(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if write.exception() is not None:
            _log.warning("a circuit breaker change not reported: %r", write.exception())

    async def _bindings(self, point: HookPoint) -> list[_Bound]:
        read = self._read.get(point)
        now = self._clock()
        if read is not None and now - read[0] < self._settings.bindings_cache_seconds:
            return read[1]
        try:
            rows, enabled = await asyncio.to_thread(self._read_bindings, point)
        except StorageUnavailable as error:
            if read is not None:  # what was read last still holds for a store outage
                # ...for another cache lifetime: asked again at every call, an outage would
                # cost every session a connection attempt (up to the connect timeout when
                # the server hangs) and the log a line per message.
                self._read[point] = (now, read[1])
                _log.warning(
                    "hook bindings not read again (%s): using the last ones for %.0f s",
                    error,
                    self._settings.bindings_cache_seconds,
                )
                return read[1]
            raise CheckUnavailable(f"the {point.value} bindings cannot be read") from error
        bound = [self._bound(point, binding, plugin) for binding, plugin in rows]
        self._read[point] = (now, bound)
        self._retire_all_but(enabled)
        return bound

    def _read_bindings(
        self, point: HookPoint
    ) -> tuple[list[tuple[HookBinding, InstalledPlugin]], set[str]]:
        """The point's bindings, the bearer of each http plugin among them, and the names
        of the plugins installed and enabled now (blocking)."""
        rows = self._store.active_bindings(point.value)
        for _, plugin in rows:
            self._read_bearer(plugin)
        return rows, {plugin.name for plugin in self._store.list_plugins() if plugin.enabled}

    def _retire_all_but(self, enabled: set[str]) -> None:
        """Transports of plugins uninstalled or disabled since they were made go (a stdin
        child would otherwise idle until this process stops)."""
        for gone in [key for key in self._transports if key[0] not in enabled]:
            self._retire_later(self._transports.pop(gone))

    def _retire_later(self, transport: PluginCall) -> None:
        retiring = asyncio.ensure_future(self._retire(transport))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)

    def _read_bearer(self, plugin: InstalledPlugin) -> None:
        """The value of the plugin's ``auth_secret``, if it names one (blocking)."""
        wanted = Manifest.model_validate(plugin.manifest).transport.auth_secret
        if wanted is None or self._secret_values is None:
            return
        try:
            self._bearers[plugin.name] = self._secret_values(plugin.name).get(wanted)
        except MairustError as error:  # unreadable (a key gone): the last one read stands
            _log.warning("plugin %s: its auth secret cannot be read: %s", plugin.name, error)

    def _bound(self, point: HookPoint, binding: HookBinding, plugin: InstalledPlugin) -> _Bound:
        self._installed[plugin.name] = plugin
        return _Bound(
            _binding_of(point, plugin, BindingMode(binding.mode), binding.priority),
            binding.tenant_id,
            binding.domain,
        )

    async def _call(self, binding: Binding, request: HookRequest) -> HookResponse:
        plugin = self._installed.get(binding.plugin)
        if plugin is None:
            raise PluginFailed(f"plugin {binding.plugin} is not installed")
        bearer = self._bearers.get(plugin.name)
        key = (plugin.name, plugin.version, bearer)
        transport = self._transports.get(key)
        if transport is None:
            manifest = Manifest.model_validate(plugin.manifest)
            kind = manifest.transport.kind
            if kind is TransportKind.HTTP and manifest.transport.protocol == RSPAMD_PROTOCOL:
                transport = RspamdPlugin(self._client, manifest.transport.entrypoint, bearer)
            elif kind is TransportKind.HTTP:
                transport = HttpPlugin(self._client, manifest.transport.entrypoint, bearer)
            elif kind is TransportKind.STDIN and self._packages is not None:
                directory = self._packages.path(plugin.name, plugin.version)
                config = partial(self._config_of, plugin.name)
                transport = stdin_plugin(plugin, manifest, directory, config)
            elif kind is TransportKind.GRPC:
                # Through the http client's address guard and resolver (grpc has its
                # auth_secret bearer too, and ``_transports`` keeps its channel open).
                transport = GrpcPlugin(
                    manifest.transport.entrypoint,
                    self._client.checked_addresses,
                    bearer=bearer,
                    timeout_seconds=manifest.timeouts.call_ms / 1000.0,
                )
            elif kind in self._factories:
                transport = self._factories[kind](plugin, manifest)
            else:
                raise PluginFailed(
                    f"plugin {plugin.name}: the {kind.value} transport "
                    "is not available in this process"
                )
            for stale in [k for k in self._transports if k[0] == plugin.name]:
                # Another version (or bearer) of it: a stdin child or a gRPC channel of the
                # old one is closed.
                self._retire_later(self._transports.pop(stale))
            self._transports[key] = transport
        return await transport(binding, request)

    def _config_of(self, plugin: str) -> dict[str, Any]:
        """Its configuration as last read (a change applies without a restart)."""
        return self._installed[plugin].config

    @staticmethod
    async def _retire(transport: PluginCall) -> None:
        """What a transport holds open goes: a stdin child, a gRPC channel."""
        if isinstance(transport, StdinPlugin | GrpcPlugin):
            await transport.aclose()


def _binding_of(
    point: HookPoint, plugin: InstalledPlugin, mode: BindingMode, priority: int
) -> Binding:
    manifest = Manifest.model_validate(plugin.manifest)
    return Binding(
        plugin.name,
        point,
        priority,
        mode,
        frozenset(manifest.scopes),
        granted_at(point, manifest.permissions),
        manifest.timeouts.on_timeout,
        manifest.timeouts.on_error,
        manifest.timeouts.call_ms / 1000.0,
    )


def hook_client(settings: Settings) -> SafeHttpClient:
    """The guarded HTTP client http plugins are reached through: ``[hooks]`` networks
    allowed, the operator's resolver, no request outliving the hook deadline."""
    resolver = configured_resolver(settings.dns)
    deadline = settings.hooks.deadline_seconds
    limits = ClientLimits(
        connect_timeout=min(5.0, deadline),
        read_timeout=deadline,
        total_timeout=deadline,
        max_redirects=0,
    )
    return SafeHttpClient(
        AddressPolicy.allowing(settings.hooks.allow_networks),
        resolver,
        limits,
        user_agent="MaiRust-Hooks/1",
    )
