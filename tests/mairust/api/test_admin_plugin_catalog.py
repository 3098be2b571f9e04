"""The plugin catalog over REST (platform admin only): a directory catalog of signed
packages, written by the test as a publisher would, listed beside what is installed (with
what each manifest declares); install by name takes the newest version this MaiRust runs;
an upgrade moves to a newer one, and says so when there is none; refusals are problems
in words: a version for another MaiRust, a name the catalog lacks, no catalog configured,
a catalog that cannot be read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mairust.config import Settings
from tests.mairust.api.conftest import ADMIN_TOKEN
from tests.support.plugin_packages import Publisher, catalog_of, header_rules_at, signed_package

pytestmark = pytest.mark.in_process_only(
    "its catalog is a directory the test writes, which a running server's config cannot name"
)

CATALOG = "/api/v1/admin/plugin-catalog"
PLUGINS = "/api/v1/admin/plugins"


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return Publisher.make(tmp_path / "keys", "acme")


@pytest.fixture
def catalog(tmp_path: Path, publisher: Publisher) -> Path:
    directory = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), directory, publisher)
    future = header_rules_at(tmp_path, "2.0.0", requires_mairust=">=99", name="future-rules")
    signed_package(future, directory, publisher)
    catalog_of(directory)
    return directory


@pytest.fixture
def settings(tmp_path: Path, catalog: Path, publisher: Publisher) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        api={"admin_token": ADMIN_TOKEN},
        plugins={"catalog": str(catalog), "trusted_keys": {"acme": publisher.public}},
    )


async def offer(client: Any, name: str) -> dict[str, Any]:
    [item] = [i for i in (await client.get(CATALOG)).json()["items"] if i["name"] == name]
    return item


def with_catalog(app: FastAPI, location: str) -> None:
    settings: Settings = app.state.settings
    plugins = settings.plugins.model_copy(update={"catalog": location})
    app.state.settings = settings.model_copy(update={"plugins": plugins})


async def test_listed_installed_and_upgraded_by_name(
    client, tmp_path: Path, catalog: Path, publisher: Publisher
):
    listed = (await client.get(CATALOG)).json()
    assert listed["location"] == str(catalog)
    by_name = {item["name"]: item for item in listed["items"]}
    assert list(by_name) == ["future-rules", "header-rules"]
    rules = by_name["header-rules"]
    assert (rules["version"], rules["transport"], rules["signed_by"]) == ("1.0.0", "serve", "acme")
    assert (rules["hooks"], rules["scopes"], rules["permissions"]) == (
        ["pre_receive"],
        ["headers"],
        ["tag", "reject"],
    )
    assert rules["changelog"] == "1.0.0: first version."
    assert rules["runs_here"] is True and rules["installed_version"] is None
    assert by_name["future-rules"]["runs_here"] is False
    found = (await client.get(CATALOG, params={"q": "FUTURE"})).json()["items"]
    assert [item["name"] for item in found] == ["future-rules"]

    made = await client.post(f"{CATALOG}/header-rules/install")
    assert made.status_code == 201, made.text
    assert (made.json()["version"], made.json()["enabled"]) == ("1.0.0", True)
    assert (await client.get(f"{PLUGINS}/header-rules")).status_code == 200
    rules = await offer(client, "header-rules")
    assert (rules["installed_version"], rules["upgradable"]) == ("1.0.0", False)

    signed_package(header_rules_at(tmp_path, "1.1.0"), catalog, publisher)
    catalog_of(catalog)
    rules = await offer(client, "header-rules")
    assert (rules["version"], rules["upgradable"]) == ("1.1.0", True)
    upgraded = await client.post(f"{CATALOG}/header-rules/upgrade")
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["upgraded"] is True
    assert upgraded.json()["plugin"]["version"] == "1.1.0"
    again = (await client.post(f"{CATALOG}/header-rules/upgrade")).json()
    assert again["upgraded"] is False and again["plugin"]["version"] == "1.1.0"


async def test_refusals_are_problems_in_words(client, expect_problem):
    assert (await client.post(f"{CATALOG}/header-rules/install")).status_code == 201
    expect_problem(await client.post(f"{CATALOG}/header-rules/install"), 409)
    future = expect_problem(await client.post(f"{CATALOG}/future-rules/install"), 422)
    assert "future-rules 2.0.0 needs MaiRust >=99" in future["detail"]
    missing = expect_problem(await client.post(f"{CATALOG}/no-such-plugin/install"), 404)
    assert missing["detail"] == "the catalog has no plugin 'no-such-plugin'"
    expect_problem(await client.post(f"{CATALOG}/no-such-plugin/upgrade"), 404)
    assert [p["name"] for p in (await client.get(PLUGINS)).json()["items"]] == ["header-rules"]


async def test_no_catalog_and_an_unreadable_one(app: FastAPI, client, tmp_path, expect_problem):
    with_catalog(app, "")
    empty = (await client.get(CATALOG)).json()
    assert (empty["location"], empty["items"]) == (None, [])
    refused = expect_problem(await client.post(f"{CATALOG}/header-rules/install"), 422)
    assert refused["detail"] == "no catalog is configured (plugins.catalog)"
    with_catalog(app, str(tmp_path / "gone"))
    unreadable = expect_problem(await client.get(CATALOG), 502)
    assert unreadable["title"] == "Catalog unreachable"
    assert "index.json" in unreadable["detail"]
