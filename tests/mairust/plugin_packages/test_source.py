"""A catalog read from a directory and from a real loopback HTTP server through the guarded
client: the index, a package downloaded into the cache and reused while its SHA-256 is the
index's, a download that is not what the index says refused and not kept, the address
guard refusing loopback unless allowed, and a missing file reported as unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mairust.config import PluginsSettings
from mairust.plugin_packages.catalog import CatalogError
from mairust.plugin_packages.source import CatalogSource, CatalogUnreachable, catalog_client
from tests.support.plugin_packages import (
    Publisher,
    catalog_of,
    header_rules_at,
    served,
    signed_package,
)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    publisher = Publisher.make(tmp_path / "keys", "acme")
    directory = tmp_path / "catalog"
    signed_package(header_rules_at(tmp_path, "1.0.0"), directory, publisher)
    catalog_of(directory)
    return directory


@pytest.fixture
def loopback_catalog(catalog: Path) -> Iterator[tuple[str, list[str]]]:
    with served(catalog) as server:
        yield server.url, server.requests


async def test_a_directory_catalog(tmp_path: Path, catalog: Path) -> None:
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    [entry] = (await source.index()).packages
    fetched = await source.fetch(entry)
    assert fetched.path.read_bytes() == (catalog / entry.file).read_bytes()
    assert fetched.signature == (catalog / (entry.file + ".sig")).read_bytes()
    assert not fetched.from_cache
    assert (await source.fetch(entry)).from_cache


async def test_an_http_catalog_downloads_once_into_the_cache(
    tmp_path: Path, loopback_catalog: tuple[str, list[str]]
) -> None:
    url, requests = loopback_catalog
    client = catalog_client(PluginsSettings(allow_networks=["127.0.0.1/32"]))
    try:
        source = CatalogSource(url, tmp_path / "cache", client)
        [entry] = (await source.index()).packages
        first = await source.fetch(entry)
        again = await source.fetch(entry)
    finally:
        await client.aclose()
    assert (first.from_cache, again.from_cache) == (False, True)
    assert first.path == tmp_path / "cache" / "header-rules-1.0.0.tar.gz"
    package_path = "/" + entry.file
    assert requests.count(package_path) == 1  # the second install reused the cache
    assert requests.count(package_path + ".sig") == 2  # signatures are always fetched
    # A damaged cached copy is not reused: it is downloaded again.
    first.path.write_bytes(b"damaged")
    client = catalog_client(PluginsSettings(allow_networks=["127.0.0.1/32"]))
    try:
        repaired = await CatalogSource(url, tmp_path / "cache", client).fetch(entry)
    finally:
        await client.aclose()
    assert not repaired.from_cache and requests.count(package_path) == 2


async def test_a_download_that_is_not_what_the_index_says_is_not_kept(
    tmp_path: Path, catalog: Path
) -> None:
    source = CatalogSource(str(catalog), tmp_path / "cache", None)
    [entry] = (await source.index()).packages
    package = catalog / entry.file
    package.write_bytes(package.read_bytes() + b"\0")
    with pytest.raises(CatalogError, match=r"the index says .*: refused"):
        await source.fetch(entry)
    assert list((tmp_path / "cache").iterdir()) == []


async def test_the_address_guard_applies(
    tmp_path: Path, loopback_catalog: tuple[str, list[str]]
) -> None:
    url, requests = loopback_catalog
    client = catalog_client(PluginsSettings())  # loopback not allowed
    try:
        with pytest.raises(CatalogUnreachable, match=r"loopback"):
            await CatalogSource(url, tmp_path / "cache", client).index()
    finally:
        await client.aclose()
    assert requests == []


async def test_missing_files_and_no_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"no catalog is configured"):
        CatalogSource("", tmp_path, None)
    with pytest.raises(CatalogUnreachable, match=r"cannot read"):
        await CatalogSource(str(tmp_path / "nowhere"), tmp_path / "cache", None).index()
    with served(tmp_path) as server:
        client = catalog_client(PluginsSettings(allow_networks=["127.0.0.1/32"]))
        try:
            with pytest.raises(CatalogUnreachable, match=r"HTTP 404"):
                await CatalogSource(server.url, tmp_path / "cache", client).index()
        finally:
            await client.aclose()
