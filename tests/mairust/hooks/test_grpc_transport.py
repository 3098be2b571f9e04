"""The grpc transport against a real grpc.aio server on loopback: the request goes out as
the proto of the wire model with the bearer and hook metadata, the verdict comes back; one
channel is kept per plugin; a slow plugin is a TimeoutError (the chain's on_timeout), a
plugin that is down, refuses the call or answers no hook response, or an address the guard
refuses, is a PluginFailed (its on_error)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import grpc
import pytest

from mairust.hooks.chain import Binding, FailurePolicy, HookChain, Outcome
from mairust.hooks.grpc_transport import GrpcPlugin, _channel_target
from mairust.hooks.http_transport import PluginFailed, PluginsByName
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.proto import mairust_hook_v1_pb2 as pb
from mairust.hooks.wire import HookResponse
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import SafeHttpClient
from tests.support.grpc_plugin_server import grpc_plugin_server
from tests.support.mairust_server import free_port

ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
MESSAGE = b"Subject: hi\r\nFrom: s@remote.example\r\n\r\nbody\r\n"
BINDING = Binding(
    "attachment-policy",
    HookPoint.PRE_RECEIVE,
    scopes=frozenset({DataScope.ENVELOPE, DataScope.HEADERS, DataScope.FULL_BODY}),
    permissions=frozenset({HookPermission.REJECT}),
    on_timeout=FailurePolicy.TEMPFAIL,
    on_error=FailurePolicy.REJECT,
)
REJECT = HookResponse.model_validate(
    {"verdict": "reject", "reason": "bad attachment", "reply": "554 5.7.1 No .exe here"}
)


def guard(allow_loopback: bool = True):
    policy = AddressPolicy.allowing(["127.0.0.0/8"] if allow_loopback else [])
    return SafeHttpClient(policy).checked_addresses


def request():
    return build_request(HookPoint.PRE_RECEIVE, BINDING.scopes, ENVELOPE, MESSAGE)


async def test_the_request_goes_out_with_its_metadata_and_the_verdict_comes_back() -> None:
    async with grpc_plugin_server(REJECT) as server:
        plugin = GrpcPlugin(server.target, guard(), bearer="s3cret", timeout_seconds=2.0)
        sent = request()
        first = await plugin(BINDING, sent)
        second = await plugin(BINDING, sent)
        await plugin.aclose()
    assert first == second == REJECT
    assert [seen.request for seen in server.seen] == [sent, sent]  # unchanged on the wire
    metadata = server.seen[0].metadata
    assert metadata["authorization"] == "Bearer s3cret"
    assert metadata["mairust-hook-point"] == "pre_receive"
    assert metadata["mairust-plugin"] == "attachment-policy"
    # One channel, kept open: both calls came over the same connection.
    assert server.seen[0].peer == server.seen[1].peer


async def test_without_an_auth_secret_no_authorization_is_sent() -> None:
    async with grpc_plugin_server() as server:
        answer = await GrpcPlugin(server.target, guard())(BINDING, request())
    assert answer.verdict is VerdictKind.CONTINUE  # an empty answer: the defaults
    assert "authorization" not in server.seen[0].metadata


async def test_its_own_timeout_is_a_timeout_error() -> None:
    async with grpc_plugin_server(REJECT, delay=2.0) as server:
        plugin = GrpcPlugin(server.target, guard(), timeout_seconds=0.2)
        with pytest.raises(TimeoutError, match=r"no answer within 0\.2 s"):
            await plugin(BINDING, request())
        await plugin.aclose()


@pytest.mark.parametrize(
    ("answer", "abort", "says"),
    [
        (REJECT, grpc.StatusCode.UNAUTHENTICATED, "answered gRPC UNAUTHENTICATED"),
        (pb.HookResponse(verdict="maybe"), None, "answered no hook response"),
        (pb.HookResponse(version=2), None, "answered no hook response"),
        (pb.HookResponse(reply="x" * 600), None, "answered no hook response"),
    ],
)
async def test_a_refusal_or_a_bad_answer_is_a_plugin_failure(answer, abort, says) -> None:
    async with grpc_plugin_server(answer, abort=abort) as server:
        with pytest.raises(PluginFailed, match=says):
            await GrpcPlugin(server.target, guard(), timeout_seconds=2.0)(BINDING, request())


async def test_a_plugin_that_is_down_is_a_plugin_failure() -> None:
    port = free_port()  # nothing listens there
    plugin = GrpcPlugin(f"127.0.0.1:{port}", guard(), timeout_seconds=2.0)
    with pytest.raises(PluginFailed, match=rf"127\.0\.0\.1:{port} answered gRPC UNAVAILABLE"):
        await plugin(BINDING, request())
    await plugin.aclose()


async def test_the_address_guard_holds_for_grpc_plugins_too() -> None:
    async with grpc_plugin_server(REJECT) as server:
        plugin = GrpcPlugin(server.target, guard(allow_loopback=False), timeout_seconds=2.0)
        with pytest.raises(PluginFailed, match=r"refused: 127\.0\.0\.1 is loopback"):
            await plugin(BINDING, request())
        by_name = GrpcPlugin(f"localhost:{server.port}", guard(allow_loopback=False))
        with pytest.raises(PluginFailed, match="is loopback"):
            await by_name(BINDING, request())
    assert server.seen == []


async def test_through_the_chain_slow_is_on_timeout_and_down_is_on_error() -> None:
    async with grpc_plugin_server(REJECT, delay=2.0) as slow:
        plugins = PluginsByName(
            {
                "slow": GrpcPlugin(slow.target, guard(), timeout_seconds=5.0),
                "down": GrpcPlugin(f"127.0.0.1:{free_port()}", guard(), timeout_seconds=5.0),
            }
        )
        chain = HookChain(plugins)
        slow_binding = Binding("slow", HookPoint.RCPT_TO, on_timeout=FailurePolicy.TEMPFAIL)
        down_binding = Binding("down", HookPoint.RCPT_TO, on_error=FailurePolicy.REJECT)
        result = await chain.run(
            [slow_binding, down_binding],
            lambda b: build_request(b.point, b.scopes, ENVELOPE),
            0.5,  # the chain's deadline comes before the plugin's own
        )
    outcomes = {r.plugin: (r.outcome, r.verdict.kind) for r in result.records}
    assert outcomes == {
        "slow": (Outcome.TIMEOUT, VerdictKind.TEMPFAIL),
        "down": (Outcome.ERROR, VerdictKind.REJECT),
    }
    assert result.verdict.kind is VerdictKind.REJECT


async def test_a_name_is_resolved_once_checked_and_its_addresses_connected_to() -> None:
    async with grpc_plugin_server(REJECT) as server:
        plugin = GrpcPlugin(f"localhost:{server.port}", guard(), timeout_seconds=2.0)
        assert await plugin(BINDING, request()) == REJECT
        await plugin.aclose()
    assert len(server.seen) == 1


def test_the_channel_target_names_the_checked_addresses_of_one_family() -> None:
    ip = ipaddress.ip_address
    both = [ip("::1"), ip("127.0.0.1"), ip("127.0.0.2")]
    assert _channel_target(both, 7) == "ipv4:127.0.0.1:7,127.0.0.2:7"
    assert _channel_target([ip("::1"), ip("fd00::1")], 7) == "ipv6:[::1]:7,[fd00::1]:7"
