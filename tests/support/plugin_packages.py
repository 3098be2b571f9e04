"""Signed plugin packages for tests: the bundled header-rules plugin at any version (and
MaiRust range), packed and signed with a key made for the test, a catalog of them, and a
real loopback HTTP server serving it."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mairust.hooks.manifest import load_manifest
from mairust.plugin_packages.archive import pack
from mairust.plugin_packages.catalog import build_index, write_index
from mairust.plugin_packages.signing import (
    TrustedKeys,
    generate_key_pair,
    load_private_key,
    sign_package,
)

ROOT = Path(__file__).resolve().parents[2]
HEADER_RULES = ROOT / "plugins" / "header_rules"
# The bundled plugins the shared e2e server's catalog offers: no compiled ones (their
# binaries are not in the tree), and a few that cost nothing until switched on.
BUNDLED_IN_CATALOG = (
    "header_rules",
    "language",
    "recipient_policy",
    "summarizer",
    "ticket_webhook",
)


@dataclass(frozen=True)
class Publisher:
    """A key pair made for the test, as `mairust plugin keygen` writes it."""

    key_id: str
    key_path: Path
    public: str  # base64, as [plugins] trusted_keys holds it

    @classmethod
    def make(cls, directory: Path, key_id: str = "test-publisher") -> Publisher:
        key_path, _, public = generate_key_pair(directory, key_id)
        return cls(key_id, key_path, public)

    @property
    def trusted(self) -> TrustedKeys:
        return TrustedKeys.from_config({self.key_id: self.public})

    def sign(self, package: Path) -> Path:
        return sign_package(package, load_private_key(self.key_path), self.key_id)


def header_rules_at(
    base: Path, version: str, requires_mairust: str = "", name: str = "header-rules"
) -> Path:
    """A copy of plugins/header_rules whose manifest says ``version`` (and, when given,
    the MaiRust versions it runs, and another plugin name)."""
    directory = base / f"{name}-src-{version}"
    shutil.copytree(HEADER_RULES, directory, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = directory / "plugin.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', manifest.read_text())
    text = text.replace('name = "header-rules"', f'name = "{name}"')
    if requires_mairust:
        text = text.replace("[plugin]\n", f'[plugin]\nrequires_mairust = "{requires_mairust}"\n')
    manifest.write_text(text)
    return directory


def signed_package(directory: Path, out_dir: Path, publisher: Publisher | None) -> Path:
    """``directory`` packed into ``out_dir`` as NAME-VERSION.tar.gz, signed unless
    ``publisher`` is None."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = directory.name.replace("-src-", "-")
    package = out_dir / f"{name}.tar.gz"
    package.write_bytes(pack(directory))
    if publisher is not None:
        publisher.sign(package)
    return package


def bundled_catalog(base: Path, folders: tuple[str, ...] = BUNDLED_IN_CATALOG) -> str:
    """A directory catalog under ``base`` of bundled plugins as they are, packed and signed
    with a key made for it; returns the ``[plugins]`` TOML section naming the catalog and
    trusting the key."""
    publisher = Publisher.make(base / "keys", "bundled-test")
    catalog = base / "catalog"
    catalog.mkdir(parents=True)
    for folder in folders:
        source = ROOT / "plugins" / folder
        info = load_manifest(source).plugin
        package = catalog / f"{info.name}-{info.version}.tar.gz"
        package.write_bytes(pack(source))
        publisher.sign(package)
    catalog_of(catalog)
    return (
        f'[plugins]\ncatalog = "{catalog}"\n'
        f'trusted_keys = {{ bundled-test = "{publisher.public}" }}\n'
    )


def catalog_of(directory: Path) -> Path:
    """Writes the index of the signed packages in ``directory``; its path."""
    return write_index(directory, build_index(directory))


@contextmanager
def served(directory: Path) -> Iterator[CatalogServer]:
    """``directory`` served by a real HTTP server on 127.0.0.1 (an ephemeral port)."""
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CatalogServer(f"http://127.0.0.1:{server.server_address[1]}/", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class CatalogServer:
    url: str
    requests: list[str]  # the paths asked for, in order
