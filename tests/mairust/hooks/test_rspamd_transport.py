"""The rspamd protocol of the http transport: the pure encoding of a hook request as
Rspamd's ``/checkv2`` request and the decoding of its answer (each action, the score and
symbols as tags, malformed answers), then the transport against the real Rspamd of the test
services (MAIRUST_TEST_RSPAMD_URL; .ci/services/rspamd.sh scores a body holding
MAIRUST-TEST-SPAM 100 and one holding MAIRUST-TEST-SUSPECT 8), and a loopback HTTP server
answering what Rspamd never should."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.hooks.chain import Binding
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import ManifestError, load_manifest, parse_manifest
from mairust.hooks.payload import build_request
from mairust.hooks.permissions import HookPermission, granted_at, verdict_of
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.rspamd_transport import (
    MAX_SYMBOL_TAGS,
    RspamdPlugin,
    hook_response,
    rspamd_request,
)
from mairust.hooks.wire import HookRequest
from mairust.model.message import Envelope
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import AddressPolicy
from mairust.net.http_client import ClientLimits, SafeHttpClient
from tests.support.http_sink import Reply, http_sink
from tests.support.services import required_env

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = load_manifest(ROOT / "plugins" / "rspamd")
ENVELOPE = Envelope(
    mail_from="sender@remote.example",
    rcpt_tos=("alice@example.test", "bob@example.test"),
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    helo="client.example",
    client_ip="192.0.2.9",
)
BINDING = Binding(
    "rspamd",
    HookPoint.PRE_RECEIVE,
    scopes=frozenset(MANIFEST.scopes),
    permissions=granted_at(HookPoint.PRE_RECEIVE, MANIFEST.permissions),
)


def message(body: str) -> bytes:
    return (
        "From: Sender <sender@remote.example>\r\nTo: alice@example.test, bob@example.test\r\n"
        "Subject: hello\r\nMessage-ID: <m1@remote.example>\r\n"
        "Date: Mon, 30 Nov 2026 07:00:00 +0000\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def request(body: str = "Lunch tomorrow?", scopes: set[DataScope] | None = None) -> HookRequest:
    return build_request(
        HookPoint.PRE_RECEIVE,
        scopes or set(MANIFEST.scopes),
        ENVELOPE,
        message(body),
        message_id="01JQUEUEID",
    )


def answer(action: str, score: float = 1.0, **more: object) -> dict[str, object]:
    return {"action": action, "score": score, "required_score": 15.0, "symbols": {}, **more}


# -- encoding ---------------------------------------------------------------------------


def test_the_raw_message_is_the_body_and_the_envelope_rspamds_headers() -> None:
    sent = rspamd_request(request("Lunch tomorrow?"))
    assert sent.body == message("Lunch tomorrow?")
    assert sent.headers == {
        "From": "sender@remote.example",
        "Rcpt": "alice@example.test, bob@example.test",
        "IP": "192.0.2.9",
        "Helo": "client.example",
        "Queue-Id": "01JQUEUEID",
    }


def test_a_request_without_the_message_cannot_be_scanned() -> None:
    with pytest.raises(PluginFailed, match="full-body"):
        rspamd_request(request(scopes={DataScope.ENVELOPE, DataScope.HEADERS}))


# -- decoding ---------------------------------------------------------------------------


def test_reject_is_a_550_naming_the_score() -> None:
    response = hook_response(answer("reject", 101.0))
    assert response.verdict is VerdictKind.REJECT
    assert response.reply == "550 5.7.1 Message rejected as spam (rspamd score 101.00 / 15.00)"
    # The reply is one the SMTP edge uses as it is (well formed, in the 5xx class).
    judged = verdict_of(response, "rspamd", BINDING.permissions)
    assert judged.dropped == () and judged.verdict.own_reply() == response.reply


@pytest.mark.parametrize("action", ["soft reject", "greylist"])
def test_soft_reject_and_greylist_are_a_451(action: str) -> None:
    response = hook_response(answer(action, 5.0))
    assert response.verdict is VerdictKind.TEMPFAIL
    assert response.reply is not None and response.reply.startswith("451 4.7.1 ")
    assert verdict_of(response, "rspamd", BINDING.permissions).verdict.own_reply()


def test_add_header_tags_spam_and_adds_x_spam() -> None:
    response = hook_response(answer("add header", 8.5))
    assert response.verdict is VerdictKind.CONTINUE
    assert response.tags[:2] == ["spam", "rspamd:score=8.50"]
    edits = [(e.action, e.name, e.value) for e in response.headers]
    assert edits == [("add", "X-Spam-Score", "8.50"), ("add", "X-Spam", "Yes")]


def test_rewrite_subject_changes_the_subject_rspamd_proposes() -> None:
    response = hook_response(answer("rewrite subject", 7.0, subject="***SPAM*** hello"))
    assert "spam" in response.tags
    assert ("change", "Subject", "***SPAM*** hello") in [
        (e.action, e.name, e.value) for e in response.headers
    ]


def test_no_action_continues_with_the_score_and_heaviest_symbols_as_tags() -> None:
    symbols = {f"SYM_{i:02d}": {"name": f"SYM_{i:02d}", "score": float(i)} for i in range(20)}
    symbols["NEGATIVE"] = {"name": "NEGATIVE", "score": -30.0}
    response = hook_response(answer("no action", 2.25, symbols=symbols))
    assert response.verdict is VerdictKind.CONTINUE and response.reply is None
    assert response.tags[0] == "rspamd:score=2.25"
    named = response.tags[1:]
    assert len(named) == MAX_SYMBOL_TAGS
    # By weight either way; a symbol that weighs nothing (SYM_00) is no reason.
    assert named[:3] == ["rspamd:symbol=NEGATIVE", "rspamd:symbol=SYM_19", "rspamd:symbol=SYM_18"]
    assert "rspamd:symbol=SYM_00" not in named
    assert response.headers[0].value == "2.25"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"action": "reject"},
        {"action": "reject", "score": "high"},
        {"action": "reject", "score": True},
        {"action": 3, "score": 1.0},
    ],
)
def test_an_answer_without_action_and_score_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a /checkv2 answer"):
        hook_response(bad)


def test_without_tag_and_headers_permissions_only_the_verdict_applies() -> None:
    judged = verdict_of(hook_response(answer("add header", 9.0)), "rspamd", {HookPermission.REJECT})
    assert judged.verdict.annotations.tags == () and judged.verdict.modifications == ()
    assert any("tag permission" in drop for drop in judged.dropped)


# -- the manifest ---------------------------------------------------------------------------


def test_the_bundled_manifest_speaks_rspamd_at_pre_receive_with_the_whole_message() -> None:
    assert MANIFEST.transport.kind == "http" and MANIFEST.transport.protocol == "rspamd"
    assert [hook.point for hook in MANIFEST.hooks] == [HookPoint.PRE_RECEIVE]
    assert DataScope.FULL_BODY in MANIFEST.scopes and DataScope.ENVELOPE in MANIFEST.scopes


def test_only_an_http_plugin_speaks_the_rspamd_protocol() -> None:
    text = (ROOT / "plugins" / "rspamd" / "plugin.toml").read_text()
    serve = text.replace('kind = "http"', 'kind = "serve"').replace(
        'entrypoint = "http://127.0.0.1:11333/checkv2"', 'entrypoint = "plugin:plugin"'
    )
    with pytest.raises(ManifestError, match=r"transport\.protocol"):
        parse_manifest(serve)


# -- over the wire -----------------------------------------------------------------------


def client() -> SafeHttpClient:
    return SafeHttpClient(
        AddressPolicy.allowing(["127.0.0.0/8"]),
        limits=ClientLimits(read_timeout=10, total_timeout=10),
    )


@pytest.fixture
def rspamd() -> RspamdPlugin:
    url = required_env("MAIRUST_TEST_RSPAMD_URL", "the rspamd protocol tests")
    return RspamdPlugin(client(), f"{url.rstrip('/')}/checkv2")


async def test_real_rspamd_rejects_the_spam_marker(rspamd: RspamdPlugin) -> None:
    response = await rspamd(BINDING, request("Buy now: MAIRUST-TEST-SPAM"))
    assert response.verdict is VerdictKind.REJECT
    assert response.reply is not None
    named = re.fullmatch(
        r"550 5\.7\.1 Message rejected as spam \(rspamd score (\S+) / 15\.00\)", response.reply
    )
    assert named and float(named.group(1)) >= 90.0, response.reply
    assert "rspamd:symbol=MAIRUST_TEST_SPAM" in response.tags


async def test_real_rspamd_rejects_gtube(rspamd: RspamdPlugin) -> None:
    gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    response = await rspamd(BINDING, request(gtube))
    assert response.verdict is VerdictKind.REJECT


async def test_real_rspamd_tags_the_suspect_marker(rspamd: RspamdPlugin) -> None:
    response = await rspamd(BINDING, request("Maybe: MAIRUST-TEST-SUSPECT"))
    assert response.verdict is VerdictKind.CONTINUE
    assert "spam" in response.tags and "rspamd:symbol=MAIRUST_TEST_SUSPECT" in response.tags
    assert ("X-Spam", "Yes") in [(e.name, e.value) for e in response.headers]


async def test_real_rspamd_lets_clean_mail_through_with_its_score(rspamd: RspamdPlugin) -> None:
    response = await rspamd(BINDING, request("Lunch tomorrow at noon?"))
    assert response.verdict is VerdictKind.CONTINUE and "spam" not in response.tags
    [score] = [t for t in response.tags if t.startswith("rspamd:score=")]
    assert float(score.partition("=")[2]) < 4.0  # below Rspamd's greylist threshold


async def test_a_server_that_is_not_rspamd_is_a_plugin_failure() -> None:
    replies = [Reply(500, b"oops"), Reply(200, b"pong"), Reply(200, json.dumps([1]).encode())]
    with http_sink(*replies) as sink:
        plugin = RspamdPlugin(client(), sink.url("/checkv2"), password="s3cret")
        for says in ("HTTP 500", "rspamd answered", "not a JSON object"):
            with pytest.raises(PluginFailed, match=says):
                await plugin(BINDING, request())
    assert sink.requests[0].headers["password"] == "s3cret"
    assert sink.requests[0].headers["rcpt"] == "alice@example.test, bob@example.test"
