"""serve_http's server: a real loopback HTTP service answering hook requests with the
plugin's response; a bad request is 400 problem+json, a failing handler 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from mairust.plugin_sdk import Config, HookPoint, HookRequest, HookResponse, Plugin, reject
from mairust.plugin_sdk.http_server import http_server

plugin = Plugin("http-test")


@plugin.rcpt_to
def refuse(request: HookRequest, config: Config) -> HookResponse:
    if config.get("fail"):
        raise RuntimeError("broken")
    return reject(str(config["why"]), reply="550 5.1.1 No such user")


def serving(config: Config) -> Iterator[str]:
    with http_server(plugin, config) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        host, port = server.server_address[:2]
        try:
            yield f"http://{host!s}:{port}/hook"
        finally:
            server.shutdown()
            thread.join(timeout=10)


@pytest.fixture
def url() -> Iterator[str]:
    yield from serving({"why": "policy"})


def test_a_hook_request_gets_the_plugins_answer(url: str) -> None:
    body = HookRequest(point=HookPoint.RCPT_TO, scopes=[]).model_dump_json()
    answer = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    response = HookResponse.model_validate_json(answer.content)
    assert (response.verdict.value, response.reason, response.reply) == (
        "reject",
        "policy",
        "550 5.1.1 No such user",
    )


def test_a_bad_request_is_problem_json(url: str) -> None:
    answer = httpx.post(url, content=b'{"point": "nowhere"}')
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "not a hook request" in answer.json()["detail"]
    assert httpx.post(url, content=b"").status_code == 400


def test_a_failing_handler_is_500() -> None:
    for url in serving({"fail": True}):
        body = HookRequest(point=HookPoint.RCPT_TO, scopes=[]).model_dump_json()
        answer = httpx.post(url, content=body)
        assert answer.status_code == 500
        assert "broken" in answer.json()["detail"]
