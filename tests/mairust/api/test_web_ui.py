"""The admin UI's build served at `/`: files, the single-page app's fallback, and the API's
own paths left to the API (an unknown one is still its 404 problem)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mairust.api import create_app
from mairust.api.web_ui import DEFAULT_WEB_DIR, is_api_path
from mairust.config import Settings
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import ADMIN_TOKEN, AUTH, TOKEN_KEYS

pytestmark = pytest.mark.in_process_only("serves a build directory the test writes")

INDEX = "<!doctype html><title>MaiRust</title><div id=root></div>"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A stand-in for `web/dist`: index.html, a hashed asset and a file at the top."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "index-abc123.js").write_text("console.log('ui')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return dist


def _app(tmp_path: Path, stores: Stores, web_dir: Path) -> FastAPI:
    settings = Settings(
        data_dir=tmp_path, api={"admin_token": ADMIN_TOKEN, "web_dir": str(web_dir)}
    )
    return create_app(settings, stores, TOKEN_KEYS)


@pytest.fixture
async def http(tmp_path: Path, stores: Stores, build: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(tmp_path, stores, build))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield client


async def test_root_and_app_routes_are_index_html_never_cached(http) -> None:
    # A domain's page has dots in its last segment: still the app's, not a file.
    for path in ("/", "/dashboard", "/messages/01HX/headers", "/domains/mail.example.com"):
        answer = await http.get(path)
        assert answer.status_code == 200, path
        assert answer.text == INDEX
        assert answer.headers["cache-control"] == "no-cache"
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_assets_are_served_and_cached_for_good(http) -> None:
    answer = await http.get("/assets/index-abc123.js")
    assert answer.status_code == 200
    assert answer.text == "console.log('ui')"
    assert "javascript" in answer.headers["content-type"]
    assert "immutable" in answer.headers["cache-control"]
    assert (await http.get("/favicon.svg")).text == "<svg/>"
    assert (await http.head("/")).status_code == 200


async def test_a_missing_file_is_a_404_problem_not_the_page(http, expect_problem) -> None:
    expect_problem(await http.get("/assets/gone-999.js"), 404)
    expect_problem(await http.get("/robots.txt"), 404)
    expect_problem(await http.get("/assets/gone-999"), 404)
    expect_problem(await http.get("/icons/logo.PNG"), 404)


async def test_nothing_outside_the_build_is_served(http) -> None:
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        answer = await http.get(path)
        assert "outside the build" not in answer.text, path


async def test_the_api_keeps_its_own_paths(http, expect_problem) -> None:
    expect_problem(await http.get("/api/v1/nothing-here"), 404)
    expect_problem(await http.get("/api"), 404)
    expect_problem(await http.get("/graphql/nothing"), 404)
    expect_problem(await http.get("/api/v1/domains"), 401)
    assert (await http.get("/api/v1/domains", headers=AUTH)).status_code == 200
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/openapi.json")).json()["info"]["title"] == "MaiRust API"
    assert (await http.get("/metrics")).text.startswith("#")
    # Other methods are the router's answer, as before the UI: 405 on an API path, and
    # the UI never takes a POST.
    expect_problem(await http.delete("/api/v1/domains"), 405)
    assert (await http.post("/dashboard")).status_code in (404, 405)


async def test_ui_requests_share_one_metrics_label(http) -> None:
    for path in ("/a", "/b/c", "/d"):
        await http.get(path)
    metrics = (await http.get("/metrics")).text
    assert 'route="/{web_ui}"' in metrics
    assert 'route="/a"' not in metrics and 'route="/b/c"' not in metrics


async def test_without_a_build_root_says_how_to_build(tmp_path, stores, expect_problem) -> None:
    app = _app(tmp_path, stores, tmp_path / "no-build")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as http:
        problem = expect_problem(await http.get("/"), 404)
        assert "make web" in problem["detail"]
        assert (await http.get("/healthz")).status_code == 200


def test_the_default_build_is_the_checkouts_web_dist() -> None:
    assert DEFAULT_WEB_DIR.parts[-2:] == ("web", "dist")
    assert (DEFAULT_WEB_DIR.parent / "package.json").is_file()


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/api", True),
        ("/api/v1/x", True),
        ("/graphql", True),
        ("/healthz", True),
        ("/metrics", True),
        ("/openapi.json", True),
        ("/docs", True),
        ("/apiary", False),
        ("/", False),
        ("/messages", False),
        ("/metrics-board", False),
    ],
)
def test_which_paths_are_the_apis(path: str, api: bool) -> None:
    assert is_api_path(path) is api
