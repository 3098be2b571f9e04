"""HookRuntime over real embedded stores and real loopback plugin services: bindings read
from the store and kept for the cache's lifetime, filters by tenant and domain, each plugin
reached over http, and a store that cannot be read is "cannot decide", never "no hooks"."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.config import HooksSettings, Settings
from mairust.errors import CheckUnavailable, StorageUnavailable
from mairust.hooks.chain import Binding, Outcome, PluginCall
from mairust.hooks.deployment import PluginPackages
from mairust.hooks.manifest import Manifest, TransportKind
from mairust.hooks.points import HookPoint
from mairust.hooks.runtime import HookRuntime
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.message import Envelope
from mairust.model.plugins import HookBinding, InstalledPlugin
from mairust.model.principal import Principal
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import SafeHttpClient
from mairust.plugin_sdk.loading import load_plugin
from mairust.services.application import Application
from mairust.storage.factory import open_stores
from tests.support.grpc_plugin_server import grpc_plugin_server
from tests.support.http_sink import Reply, http_sink
from tests.support.sqlite_template import migrate_for_test
from tests.support.stdin_plugins import python_child

ADMIN = Principal.platform("test", "127.0.0.1")
HEADER_RULES = Path(__file__).resolve().parents[3] / "plugins" / "header_rules"
ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("ann@a.example",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
MESSAGE = b"Subject: hi\r\n\r\nbody\r\n"
MANIFEST = """
scopes = ["envelope", "headers"]
permissions = ["reject", "tag"]

[plugin]
name = "{name}"
version = "1.0.0"
description = "test plugin"
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "{url}"

[[hooks]]
point = "pre_receive"

[timeouts]
call_ms = 2000
on_error = "tempfail"
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data")
    migrate_for_test(settings.storage)
    opened = open_stores(settings.storage)
    tenant = opened.metadata.create_tenant("a")
    opened.metadata.add_domain("a.example", tenant.id)
    yield opened
    opened.close()


def install(stores, tmp_path: Path, name: str, url: str) -> None:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "plugin.toml").write_text(MANIFEST.format(name=name, url=url))
    Application.over(stores, (b"k" * 32,)).plugins.install(ADMIN, str(directory))


def runtime(stores, clock: Clock, cache: float = 5.0) -> HookRuntime:
    client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
    settings = HooksSettings(deadline_seconds=2.0, bindings_cache_seconds=cache)
    return HookRuntime(stores.metadata, client, settings, clock=clock)


REJECT = json.dumps({"verdict": "reject", "reply": "554 5.7.1 No", "tags": ["x"]}).encode()


async def test_a_bound_http_plugin_decides_and_sees_only_its_scopes(stores, tmp_path):
    with http_sink(default=Reply(200, REJECT)) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        hooks = runtime(stores, Clock())
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert verdict.kind is VerdictKind.REJECT and verdict.reply == "554 5.7.1 No"
        [seen] = plugin.requests
    sent = json.loads(seen.body)
    assert sent["point"] == "pre_receive" and sent["headers"] == [["Subject", "hi"]]
    assert sent["body_base64"] is None and sent["body_preview"] is None


async def test_bindings_are_kept_for_the_cache_lifetime_then_read_again(stores, tmp_path):
    clock = Clock()
    with http_sink(default=Reply(200, REJECT)) as plugin:
        hooks = runtime(stores, clock)
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        ).kind is VerdictKind.CONTINUE
        install(stores, tmp_path, "rules", plugin.url())
        # Read a moment ago: the new binding is not seen yet...
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        ).kind is VerdictKind.CONTINUE
        clock.now += 5
        # ... and is once the cache's lifetime is over, with no restart.
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        ).kind is VerdictKind.REJECT


async def test_tenant_and_domain_filters(stores, tmp_path):
    with http_sink(default=Reply(200, REJECT)) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        [binding] = stores.metadata.list_bindings()
        tenant_id = stores.metadata.get_domain("a.example").tenant_id
        stores.metadata.delete_binding(binding.id)
        stores.metadata.add_binding(
            HookBinding(
                "f",
                "rules",
                "pre_receive",
                1,
                "enforce",
                True,
                tenant_id,
                "a.example",
                datetime.now(UTC),
            )
        )
        hooks = runtime(stores, Clock())
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, {tenant_id})
        ).kind is VerdictKind.REJECT
        # Another tenant's mail, or mail to another domain: the binding does not run.
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, {"other"})
        ).kind is VerdictKind.CONTINUE
        elsewhere = replace(ENVELOPE, rcpt_tos=("x@b.example",))
        assert (
            await hooks.decide(HookPoint.PRE_RECEIVE, elsewhere, MESSAGE, {tenant_id})
        ).kind is (VerdictKind.CONTINUE)
        assert len(plugin.requests) == 1


async def test_an_unreachable_plugin_is_its_on_error_verdict(stores, tmp_path):
    install(stores, tmp_path, "gone", "http://127.0.0.1:9/nothing-listens")
    result = await runtime(stores, Clock()).run(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE)
    [record] = result.records
    assert record.outcome is Outcome.ERROR and result.verdict.kind is VerdictKind.TEMPFAIL


class DownStore:
    def active_bindings(self, point: str) -> list[tuple[HookBinding, InstalledPlugin]]:
        raise StorageUnavailable("metadata store unreachable")


class SwitchableStore:
    """The real store, whose binding reads fail while ``down`` (a store outage); counts them."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.down = False
        self.reads = 0

    def active_bindings(self, point: str) -> list[tuple[HookBinding, InstalledPlugin]]:
        self.reads += 1
        if self.down:
            raise StorageUnavailable("metadata store unreachable")
        return self._store.active_bindings(point)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


async def test_an_outage_keeps_the_last_bindings_and_asks_once_a_cache_lifetime(stores, tmp_path):
    clock = Clock()
    with http_sink(default=Reply(200, REJECT)) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        store = SwitchableStore(stores.metadata)
        client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
        settings = HooksSettings(deadline_seconds=2.0, bindings_cache_seconds=5.0)
        hooks = HookRuntime(store, client, settings, clock=clock)  # type: ignore[arg-type]

        async def decided() -> VerdictKind:
            return (await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())).kind

        assert await decided() is VerdictKind.REJECT and store.reads == 1
        store.down = True
        clock.now += 5
        # The last bindings hold through the outage, and the store is asked once per cache
        # lifetime, not by every session (each a connection attempt to a server that is down).
        assert [await decided() for _ in range(3)] == [VerdictKind.REJECT] * 3
        assert store.reads == 2
        clock.now += 5
        store.down = False
        assert await decided() is VerdictKind.REJECT and store.reads == 3
        assert len(plugin.requests) == 5


async def test_bindings_that_cannot_be_read_are_cannot_decide_not_no_hooks(stores):
    client = SafeHttpClient(AddressPolicy())
    hooks = HookRuntime(DownStore(), client, HooksSettings())  # type: ignore[arg-type]
    with pytest.raises(CheckUnavailable):
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())


async def recorded(stores, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(stores.metadata.list_hook_calls("rules")) < count:
        assert time.monotonic() < deadline, f"{count} calls not recorded in {within} s"
        await asyncio.sleep(0.05)


async def test_calls_are_recorded_in_batches_off_the_path(stores, tmp_path):
    with http_sink(default=Reply(200, REJECT)) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
        hooks = HookRuntime(
            stores.metadata, client, HooksSettings(), record_batch=3, record_seconds=3.0
        )
        for _ in range(2):
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert stores.metadata.list_hook_calls("rules") == []  # not yet: neither 3 nor 3 s
        await recorded(stores, 2, within=10.0)  # the timer wrote them
        for _ in range(3):
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        await recorded(stores, 5, within=2.0)  # the third filled a batch: no timer waited
        calls = stores.metadata.list_hook_calls("rules")
        # The counter moves once the recording task resumes after its write, which a
        # loaded machine may let the store's readers see first.
        deadline = time.monotonic() + 2.0
        while hooks.recorded < 5:
            assert time.monotonic() < deadline, f"{hooks.recorded} counted"
            await asyncio.sleep(0.01)
        assert len(calls) == 5 and hooks.recorded == 5
        assert {(c.point, c.outcome, c.verdict, c.mode) for c in calls} == {
            ("pre_receive", "answered", "reject", "enforce")
        }
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        await hooks.aclose()  # a graceful stop records what is left
        assert len(stores.metadata.list_hook_calls("rules")) == 6
        newest_first = stores.metadata.list_hook_calls("rules", limit=4)
        older = stores.metadata.list_hook_calls("rules", before=newest_first[-1].id)
        assert [c.id for c in newest_first + older] == sorted(
            (c.id for c in stores.metadata.list_hook_calls("rules")), reverse=True
        )
        # The running totals grew in the same transactions as the log.
        [total] = stores.metadata.hook_call_counts("rules")
        assert (total.point, total.outcome, total.verdict, total.calls) == (
            "pre_receive",
            "answered",
            "reject",
            6,
        )


async def test_the_call_observer_hears_each_call_as_it_is_made(stores, tmp_path):
    with http_sink(default=Reply(200, REJECT)) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
        hooks = HookRuntime(stores.metadata, client, HooksSettings(), record_seconds=30.0)
        heard: list[tuple[str, float, str]] = []
        hooks.call_observer = heard.extend
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        # At once, before the (batched, 30 s) write of the call log.
        assert [(name, verdict) for name, _, verdict in heard] == [("rules", "reject")]
        assert heard[0][1] > 0.0
        await hooks.aclose()


async def test_a_plugin_that_keeps_failing_is_reported_shed_until_it_answers(stores, tmp_path):
    with http_sink(default=Reply(500, b"down")) as plugin:
        install(stores, tmp_path, "rules", plugin.url())
        clock = Clock()
        hooks = runtime(stores, clock)
        for _ in range(5):  # the breaker's default: open after 5 failures in a row
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        await hooks.flush()
        [report] = stores.metadata.breaker_reports("rules")
        assert (report.holder, report.state, report.times_opened) == (hooks.holder, "open", 1)
        assert hooks.holder.startswith("hooks@") and report.open_seconds == 30.0
        shed = await hooks.run(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE)
        assert shed.records[0].outcome is Outcome.SHED and len(plugin.requests) == 5
        plugin.default = Reply(200, REJECT)
        clock.now += 30  # its trial call answers: closed again, and said so
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        await hooks.flush()
        [report] = stores.metadata.breaker_reports("rules")
        assert (report.state, report.times_opened) == ("closed", 1)
        await hooks.aclose()  # a graceful stop takes its reports back
        assert stores.metadata.breaker_reports("rules") == []


async def test_an_http_plugin_is_called_with_its_auth_secret_as_bearer(stores, tmp_path):
    with http_sink(default=Reply(200, REJECT)) as plugin:
        directory = tmp_path / "authed"
        directory.mkdir()
        manifest = MANIFEST.format(name="authed", url=plugin.url()).replace(
            f'entrypoint = "{plugin.url()}"',
            f'entrypoint = "{plugin.url()}"\nauth_secret = "token"',
        )
        (directory / "plugin.toml").write_text('secrets = ["token"]\n' + manifest)
        application = Application.over(stores, (b"k" * 32,))
        application.plugins.install(ADMIN, str(directory))
        stores.metadata.update_plugin("authed", enabled=True)
        values = {"authed": {"token": "first"}}
        client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
        clock = Clock()
        hooks = HookRuntime(
            stores.metadata,
            client,
            HooksSettings(bindings_cache_seconds=5.0),
            clock=clock,
            secret_values=lambda name: values[name],
        )
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        values["authed"] = {"token": "second"}  # set anew: in use once bindings are read
        clock.now += 5
        await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert [r.headers.get("authorization") for r in plugin.requests] == [
            "Bearer first",
            "Bearer second",
        ]


async def test_a_serve_plugin_is_reached_through_the_injected_transport(stores, tmp_path):
    """The serve transport comes from outside the core (a Serve handle in production);
    here it runs the stored package's SDK plugin in process. Without one, the calls fail
    and the binding's on_error stands in."""
    packages = PluginPackages(tmp_path / "kept")
    application = Application.over(stores, (b"k" * 32,), plugin_packages=packages)
    application.plugins.install(ADMIN, str(HEADER_RULES))
    rules = [{"header": "subject", "pattern": "^hi$", "action": "reject"}]
    application.plugins.change(ADMIN, "header-rules", config={"rules": rules})
    made: list[str] = []

    def in_process(plugin: InstalledPlugin, manifest: Manifest) -> PluginCall:
        made.append(plugin.name)
        loaded = load_plugin(
            packages.path(plugin.name, plugin.version), manifest.transport.entrypoint, "rt"
        )

        async def call(binding: Binding, request: HookRequest) -> HookResponse:
            return await loaded.handle(request, plugin.config)

        return call

    client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
    hooks = HookRuntime(
        stores.metadata,
        client,
        HooksSettings(deadline_seconds=2.0),
        transports={TransportKind.SERVE: in_process},
    )
    for _ in range(2):
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert verdict.kind is VerdictKind.REJECT
    assert made == ["header-rules"]  # one transport per plugin version, kept

    without = HookRuntime(stores.metadata, client, HooksSettings(deadline_seconds=2.0))
    [record] = (await without.run(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE)).records
    assert record.outcome is Outcome.ERROR and "not available in this process" in record.error
    assert record.verdict.kind is VerdictKind.CONTINUE  # header-rules' on_error: accept


STDIN_MANIFEST = (
    MANIFEST.replace('kind = "http"', 'kind = "stdin"')
    .replace('entrypoint = "{url}"', 'entrypoint = "{command}"')
    .replace('version = "1.0.0"', 'version = "{version}"')
)


def stdin_package(base: Path, version: str) -> Path:
    """A stdin plugin's directory: the Python child of tests/support, run from there."""
    directory = base / f"child-{version}"
    python_child(directory)
    command = f"{sys.executable} child.py"  # child.py: found in its installed directory
    text = STDIN_MANIFEST.format(name="child", command=command, version=version)
    (directory / "plugin.toml").write_text(text)
    return directory


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_stdin_plugin_runs_from_its_kept_files_with_its_configuration(stores, tmp_path):
    """Installed, its files are kept under the packages root and its child starts there;
    its configuration reaches it with each call (a change needs no restart); an upgrade
    stops the old version's child, and so does disabling it; aclose stops the child."""
    packages = PluginPackages(tmp_path / "kept")
    plugins = Application.over(stores, (b"k" * 32,), plugin_packages=packages).plugins
    source = stdin_package(tmp_path / "src", "1.0.0")
    plugins.install(ADMIN, str(source))
    shutil.rmtree(source)  # what runs is what was kept
    assert (packages.path("child", "1.0.0") / "child.py").is_file()
    plugins.change(ADMIN, "child", config={"verdict": "reject", "reply": "554 5.7.1 Child"})
    client = SafeHttpClient(AddressPolicy.allowing([]))
    settings = HooksSettings(deadline_seconds=5.0, bindings_cache_seconds=0)
    hooks = HookRuntime(stores.metadata, client, settings, packages=packages)
    try:
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert verdict.kind is VerdictKind.REJECT and verdict.reply == "554 5.7.1 Child"
        first = int(verdict.reason.removeprefix("pid "))

        plugins.change(ADMIN, "child", config={"tags": ["changed"]})
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert verdict.kind is VerdictKind.CONTINUE and verdict.reason == f"pid {first}"

        plugins.upgrade(ADMIN, "child", str(stdin_package(tmp_path / "src", "1.1.0")))
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        second = int(verdict.reason.removeprefix("pid "))
        assert second != first
        for _ in range(100):  # the old version's child is stopped in the background
            if not alive(first):
                break
            await asyncio.sleep(0.05)
        assert not alive(first) and alive(second)

        # Disabled, it is called no more: its child goes at the next read of the bindings.
        plugins.change(ADMIN, "child", enabled=False)
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        assert verdict.kind is VerdictKind.CONTINUE
        for _ in range(100):
            if not alive(second):
                break
            await asyncio.sleep(0.05)
        assert not alive(second)
        plugins.change(ADMIN, "child", enabled=True)
        verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
        third = int(verdict.reason.removeprefix("pid "))
        assert alive(third)
        await hooks.aclose()
        assert not alive(third)
    finally:
        await hooks.aclose()


async def test_a_grpc_plugin_is_reached_over_grpc_with_its_bearer(stores, tmp_path):
    async with grpc_plugin_server(HookResponse.model_validate(json.loads(REJECT))) as plugin:
        directory = tmp_path / "go-rules"
        directory.mkdir()
        manifest = (
            MANIFEST.format(name="go-rules", url=plugin.target)
            .replace('kind = "http"', 'kind = "grpc"')
            .replace(
                f'entrypoint = "{plugin.target}"',
                f'entrypoint = "{plugin.target}"\nauth_secret = "token"',
            )
        )
        (directory / "plugin.toml").write_text('secrets = ["token"]\n' + manifest)
        Application.over(stores, (b"k" * 32,)).plugins.install(ADMIN, str(directory))
        stores.metadata.update_plugin("go-rules", enabled=True)
        client = SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"]))
        hooks = HookRuntime(
            stores.metadata,
            client,
            HooksSettings(deadline_seconds=2.0),
            secret_values=lambda name: {"token": "t0k"},
            owns_client=True,
        )
        for _ in range(2):
            verdict = await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
            assert verdict.kind is VerdictKind.REJECT and verdict.reply == "554 5.7.1 No"
        await hooks.aclose()
    first, second = plugin.seen
    assert first.metadata["authorization"] == "Bearer t0k"
    assert first.request.headers == [("Subject", "hi")] and first.request.body_base64 is None
    assert first.peer == second.peer  # one channel, kept


def established_to(port: int) -> int:
    """TCP connections established to ``port`` on this machine (the server's side), from
    /proc (grpc's sockets are IPv6 ones holding IPv4-mapped addresses: both tables)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "01":
                count += 1
    return count


async def test_a_new_bearer_closes_the_grpc_channel_it_replaces(stores, tmp_path):
    """A rotated auth secret makes a new channel (the bearer is part of it); the old one is
    closed, not left open until the process stops."""
    async with grpc_plugin_server(HookResponse.model_validate(json.loads(REJECT))) as plugin:
        directory = tmp_path / "go-rules"
        directory.mkdir()
        manifest = (
            MANIFEST.format(name="go-rules", url=plugin.target)
            .replace('kind = "http"', 'kind = "grpc"')
            .replace(
                f'entrypoint = "{plugin.target}"',
                f'entrypoint = "{plugin.target}"\nauth_secret = "token"',
            )
        )
        (directory / "plugin.toml").write_text('secrets = ["token"]\n' + manifest)
        Application.over(stores, (b"k" * 32,)).plugins.install(ADMIN, str(directory))
        stores.metadata.update_plugin("go-rules", enabled=True)
        token = {"token": "first"}
        hooks = HookRuntime(
            stores.metadata,
            SafeHttpClient(AddressPolicy.allowing(["127.0.0.0/8"])),
            HooksSettings(deadline_seconds=2.0, bindings_cache_seconds=0),
            secret_values=lambda name: dict(token),
            owns_client=True,
        )
        try:
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
            assert established_to(plugin.port) == 1
            token["token"] = "second"
            await hooks.decide(HookPoint.PRE_RECEIVE, ENVELOPE, MESSAGE, set())
            for _ in range(100):  # the old channel is closed in the background
                if established_to(plugin.port) == 1:
                    break
                await asyncio.sleep(0.05)
            assert established_to(plugin.port) == 1
            first, second = plugin.seen
            assert first.metadata["authorization"] == "Bearer first"
            assert second.metadata["authorization"] == "Bearer second"
            assert first.peer != second.peer  # a new channel
        finally:
            await hooks.aclose()
        for _ in range(100):
            if established_to(plugin.port) == 0:
                break
            await asyncio.sleep(0.05)
        assert established_to(plugin.port) == 0
