"""Where a catalog lives (a directory or an http(s) URL) and the local cache of its packages.

Over http(s) every request goes through the platform's :class:`SafeHttpClient`, so the
address guard applies (``[plugins] allow_networks`` lets a private catalog through) and
every answer is bounded. A package is kept in the cache under the data directory as
``<name>-<version>.tar.gz`` and reused while its SHA-256 is the index's; a download whose
SHA-256 differs from the index is refused and not kept. The signature (``file + ".sig"``)
is fetched every time: it is small, and it is checked at every install anyway.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from mairust.config import PluginsSettings
from mairust.errors import MairustError
from mairust.net.address_guard import AddressPolicy, OutgoingRequestError
from mairust.net.http_client import ClientLimits, SafeHttpClient
from mairust.plugin_packages.archive import UnpackLimits
from mairust.plugin_packages.catalog import (
    INDEX_NAME,
    MAX_INDEX_BYTES,
    CatalogEntry,
    CatalogError,
    CatalogIndex,
    parse_index,
)
from mairust.plugin_packages.signing import SIGNATURE_SUFFIX, file_sha256

_log = logging.getLogger(__name__)
CACHE_DIRECTORY = "plugin-cache"


class CatalogUnreachable(MairustError):
    """The catalog could not be read (not found, refused, timed out); try again later."""


@dataclass(frozen=True, slots=True)
class FetchedPackage:
    entry: CatalogEntry
    path: Path  # in the cache
    signature: bytes
    from_cache: bool


def catalog_client(settings: PluginsSettings) -> SafeHttpClient:
    """The guarded client a catalog is read with: a package may be as large as a package
    may be unpacked from."""
    limits = ClientLimits(
        total_timeout=settings.download_timeout,
        read_timeout=min(30.0, settings.download_timeout),
        max_response_bytes=max(UnpackLimits().max_package_bytes, MAX_INDEX_BYTES),
    )
    return SafeHttpClient(
        AddressPolicy.allowing(settings.allow_networks),
        limits=limits,
        user_agent="MaiRust-Plugins/1",
    )


class CatalogSource:
    """One configured catalog. ``client`` reads an http(s) catalog (unused for a directory;
    the caller closes it)."""

    def __init__(self, location: str, cache_dir: Path, client: SafeHttpClient | None) -> None:
        if not location:
            raise CatalogError("no catalog is configured (plugins.catalog)")
        self._remote = urlsplit(location).scheme in ("http", "https")
        if self._remote and client is None:
            raise CatalogError("an http(s) catalog needs an HTTP client")
        if self._remote:
            self._base = location if location.endswith("/") else location + "/"
            if location.endswith(".json"):
                self._base = location.rsplit("/", 1)[0] + "/"
        else:
            self._base = str(Path(location).expanduser().resolve())
        self._client = client
        self.cache_dir = cache_dir
        self.location = location

    async def index(self) -> CatalogIndex:
        return parse_index(await self._read(INDEX_NAME))

    async def fetch(self, entry: CatalogEntry) -> FetchedPackage:
        """The entry's package in the cache (downloaded unless the cached one matches)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        cached = self.cache_dir / f"{entry.name}-{entry.version}.tar.gz"
        signature = await self._read(entry.file + SIGNATURE_SUFFIX)
        if cached.is_file() and file_sha256(cached) == entry.sha256:
            _log.info("plugin package %s from the cache", cached.name)
            return FetchedPackage(entry, cached, signature, True)
        _keep(await self._read(entry.file), entry, cached)
        return FetchedPackage(entry, cached, signature, False)

    async def _read(self, relative: str) -> bytes:
        if not self._remote:
            path = Path(self._base) / relative
            try:
                return path.read_bytes()
            except OSError as error:
                raise CatalogUnreachable(f"cannot read {path}: {error}") from None
        assert self._client is not None
        url = urljoin(self._base, relative)
        try:
            answer = await self._client.request("GET", url)
        except OutgoingRequestError as error:
            raise CatalogUnreachable(f"the catalog at {self.location}: {error}") from None
        if answer.status != 200:
            raise CatalogUnreachable(f"GET {url}: HTTP {answer.status}")
        return answer.body


def _keep(content: bytes, entry: CatalogEntry, cached: Path) -> None:
    """Writes a download into the cache if its SHA-256 is the index's (atomically: a
    cached file is always whole)."""
    descriptor, partial = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        got = file_sha256(Path(partial))
        if got != entry.sha256:
            raise CatalogError(
                f"{entry.file} from the catalog has SHA-256 {got}, the index says "
                f"{entry.sha256}: refused (changed or damaged)"
            )
        os.replace(partial, cached)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
