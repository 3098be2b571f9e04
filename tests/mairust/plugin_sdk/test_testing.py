"""run_plugin: the request is built as the platform builds it, for the manifest's scopes
(a headers-only plugin is given no body byte), and the plugin's answer comes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.plugin_sdk import (
    Config,
    DataScope,
    HookRequest,
    HookResponse,
    Plugin,
    VerdictKind,
    proceed,
    run_plugin,
    run_plugin_async,
)
from mairust.plugin_sdk.testing import test_envelope

MANIFEST = """
scopes = ["headers"]

[plugin]
name = "seer"
version = "1.0.0"
description = "keeps what it is given"
author = "tests"
license = "MIT"

[transport]
kind = "serve"
entrypoint = "plugin:plugin"

[[hooks]]
point = "pre_receive"
"""
MESSAGE = b"From: a@remote.example\r\nSubject: secret plans\r\n\r\nthe body is secret\r\n"


@pytest.fixture
def seen() -> list[HookRequest]:
    return []


@pytest.fixture
def plugin(seen: list[HookRequest]) -> Plugin:
    plugin = Plugin("seer")

    @plugin.pre_receive
    def keep(request: HookRequest, config: Config) -> HookResponse:
        seen.append(request)
        return proceed(str(config.get("say", "")))

    return plugin


def test_the_manifest_scopes_are_what_the_plugin_is_given(
    plugin: Plugin, seen: list[HookRequest], tmp_path: Path
) -> None:
    (tmp_path / "plugin.toml").write_text(MANIFEST)
    answer = run_plugin(plugin, "pre_receive", MESSAGE, manifest=tmp_path, config={"say": "hi"})
    assert (answer.verdict, answer.reason) == (VerdictKind.CONTINUE, "hi")
    [request] = seen
    assert request.scopes == [DataScope.HEADERS]
    assert ("Subject", "secret plans") in (request.headers or [])
    assert b"the body" not in request.model_dump_json().encode()
    assert request.envelope is None


def test_without_a_manifest_the_scopes_given_or_the_envelope(
    plugin: Plugin, seen: list[HookRequest]
) -> None:
    run_plugin(plugin, "pre_receive", MESSAGE)
    run_plugin(
        plugin,
        "pre_receive",
        MESSAGE,
        scopes=[DataScope.FULL_BODY],
        envelope=test_envelope(["bob@example.test"]),
    )
    first, second = seen
    assert first.scopes == [DataScope.ENVELOPE] and first.envelope is not None
    assert first.envelope.rcpt_tos == ["user@example.test"] and first.headers is None
    assert second.body_base64 is not None and second.envelope is None


async def test_the_async_helper_and_an_undeclared_point(plugin: Plugin, tmp_path: Path) -> None:
    (tmp_path / "plugin.toml").write_text(MANIFEST)
    answer = await run_plugin_async(plugin, "pre_receive", MESSAGE, manifest=tmp_path)
    assert answer.verdict is VerdictKind.CONTINUE
    with pytest.raises(ValueError, match="does not declare the rcpt_to hook"):
        await run_plugin_async(plugin, "rcpt_to", manifest=tmp_path)
