"""The committed OpenAPI snapshot the web UI's client is generated from is the app's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mairust.api.openapi_document import openapi_document, render

SNAPSHOT = Path(__file__).resolve().parents[3] / "web" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_the_committed_snapshot_is_the_apps_document(document: dict[str, Any]) -> None:
    committed = SNAPSHOT.read_text()
    if committed != render(document):
        paths_now, paths_then = set(document["paths"]), set(json.loads(committed)["paths"])
        pytest.fail(
            "web/openapi.json differs from the app's OpenAPI document; write it anew with "
            "`make openapi` and rebuild the UI (make web). Paths only in the app: "
            f"{sorted(paths_now - paths_then)}; only in the snapshot: "
            f"{sorted(paths_then - paths_now)}"
        )


def test_the_document_has_what_the_ui_reads(document: dict[str, Any]) -> None:
    # The UI's first pages: sign-in, who the token is, the dashboard's series.
    for path in ("/api/v1/auth/token", "/api/v1/auth/me", "/api/v1/stats"):
        assert path in document["paths"], path
    minute = document["components"]["schemas"]["MinuteOut"]["properties"]
    assert {"messages_in", "messages_out", "replies", "queue_depth", "hook_latency"} <= set(minute)


def test_render_is_stable(document: dict[str, Any]) -> None:
    assert render(document) == render(json.loads(render(document)))
    assert render(document).endswith("}\n")
