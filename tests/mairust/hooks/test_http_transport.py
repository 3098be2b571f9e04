"""The http transport against a real loopback HTTP server: the request JSON goes out, a
hook response comes back; a bad status, a body that is no hook response, a refused
address or a slow server is a PluginFailed (the chain's on_error), and through the chain
a slow server is its on_timeout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mairust.hooks.chain import Binding, FailurePolicy, HookChain, Outcome
from mairust.hooks.http_transport import HttpPlugin, PluginFailed, PluginsByName
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import DataScope, HookPoint
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import ClientLimits, SafeHttpClient
from tests.support.http_sink import Reply, http_sink

ENVELOPE = Envelope(
    mail_from="s@remote.example",
    rcpt_tos=("a@example.test",),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
BINDING = Binding(
    "recipient-policy",
    HookPoint.RCPT_TO,
    permissions=frozenset({HookPermission.REJECT}),
    on_timeout=FailurePolicy.TEMPFAIL,
)
REJECT = json.dumps({"verdict": "reject", "reason": "not here", "reply": "550 5.1.1 No"}).encode()


def client(allow_loopback: bool = True, read_timeout: float = 5.0) -> SafeHttpClient:
    policy = AddressPolicy.allowing(["127.0.0.0/8"] if allow_loopback else [])
    return SafeHttpClient(policy, limits=ClientLimits(read_timeout=read_timeout, total_timeout=5))


def request():
    return build_request(HookPoint.RCPT_TO, {DataScope.ENVELOPE}, ENVELOPE)


async def test_the_request_goes_out_as_json_and_the_answer_comes_back() -> None:
    with http_sink(Reply(200, REJECT)) as sink:
        answer = await HttpPlugin(client(), sink.url("/policy"))(BINDING, request())
    assert answer.verdict is VerdictKind.REJECT and answer.reply == "550 5.1.1 No"
    [seen] = sink.requests
    assert seen.method == "POST" and seen.path == "/policy"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["mairust-hook-point"] == "rcpt_to"
    sent = json.loads(seen.body)
    assert sent["version"] == 1 and sent["envelope"]["rcpt_tos"] == ["a@example.test"]
    assert sent["headers"] is None and sent["body_base64"] is None


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Reply(500, b"oops"), "answered HTTP 500"),
        (Reply(200, b"not json"), "answered no hook response"),
        (Reply(200, json.dumps({"verdict": "maybe"}).encode()), "answered no hook response"),
        (Reply(200, json.dumps({"verdict": "accept", "extra": 1}).encode()), "extra"),
    ],
)
async def test_a_bad_answer_is_a_plugin_failure(reply: Reply, says: str) -> None:
    with http_sink(reply) as sink, pytest.raises(PluginFailed, match=says):
        await HttpPlugin(client(), sink.url())(BINDING, request())


async def test_the_address_guard_holds_for_plugins_too() -> None:
    with (
        http_sink(Reply(200, REJECT)) as sink,
        pytest.raises(PluginFailed, match=r"refused|not allowed|loopback"),
    ):
        await HttpPlugin(client(allow_loopback=False), sink.url())(BINDING, request())
    assert sink.requests == []


async def test_through_the_chain_slow_is_on_timeout_and_broken_is_on_error() -> None:
    with http_sink(default=Reply(200, REJECT, delay=2.0)) as slow, http_sink(Reply(503)) as broken:
        plugins = PluginsByName(
            {
                "slow": HttpPlugin(client(), slow.url()),
                "broken": HttpPlugin(client(), broken.url()),
            }
        )
        chain = HookChain(plugins)
        slow_binding = Binding("slow", HookPoint.RCPT_TO, on_timeout=FailurePolicy.TEMPFAIL)
        broken_binding = Binding("broken", HookPoint.RCPT_TO, on_error=FailurePolicy.ACCEPT)
        missing = Binding("missing", HookPoint.RCPT_TO, on_error=FailurePolicy.ACCEPT)
        result = await chain.run(
            [slow_binding, broken_binding, missing],
            lambda b: build_request(b.point, b.scopes, ENVELOPE),
            0.5,
        )
    outcomes = {r.plugin: (r.outcome, r.verdict.kind) for r in result.records}
    assert outcomes == {
        "slow": (Outcome.TIMEOUT, VerdictKind.TEMPFAIL),
        "broken": (Outcome.ERROR, VerdictKind.CONTINUE),
        "missing": (Outcome.ERROR, VerdictKind.CONTINUE),
    }
    assert result.verdict.kind is VerdictKind.TEMPFAIL
    assert "not installed" in next(r.error for r in result.records if r.plugin == "missing")
