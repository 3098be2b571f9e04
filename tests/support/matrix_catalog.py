"""The plugin catalog the BOLA matrix and the audit walk install and upgrade from: a
directory named by the API tests' SECOND_SETTINGS (so a live server's config names it too),
signed with a key made in memory, filled on demand. Each :func:`publish_newer` adds a
version newer than every one before, so an upgrade from it always has one to move to."""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
from itertools import count
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mairust.plugin_packages.archive import pack
from mairust.plugin_packages.catalog import INDEX_NAME, build_index, write_index
from mairust.plugin_packages.signing import sign_package

CATALOG_PLUGIN = "catalog-plugin"
_KEY_ID = "bola-matrix"
_KEY = Ed25519PrivateKey.generate()
_DIRECTORY = Path(tempfile.mkdtemp(prefix="mairust-test-catalog-"))
atexit.register(shutil.rmtree, _DIRECTORY, True)
_PATCH = count()

_MANIFEST = """
scopes = ["envelope"]
permissions = ["tag"]

[plugin]
name = "catalog-plugin"
version = "{version}"
description = "A plugin the BOLA matrix installs from its catalog."
author = "tests"
license = "MIT"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:9/hook"

[[hooks]]
point = "rcpt_to"
priority = 20
"""


def catalog_settings() -> dict[str, Any]:
    """The ``[plugins]`` section naming the catalog and trusting its key."""
    public = _KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {
        "catalog": str(_DIRECTORY),
        "trusted_keys": {_KEY_ID: base64.b64encode(public).decode()},
    }


def publish_newer() -> str:
    """Adds catalog-plugin at a version newer than all before to the catalog; the version."""
    version = f"1.0.{next(_PATCH)}"
    source = _DIRECTORY / "sources" / version
    source.mkdir(parents=True)
    (source / "plugin.toml").write_text(_MANIFEST.format(version=version))
    package = _DIRECTORY / f"{CATALOG_PLUGIN}-{version}.tar.gz"
    package.write_bytes(pack(source))
    sign_package(package, _KEY, _KEY_ID)
    write_index(_DIRECTORY, build_index(_DIRECTORY))
    return version


def ensure_published() -> None:
    """The catalog offers catalog-plugin (some version)."""
    if not (_DIRECTORY / INDEX_NAME).is_file():
        publish_newer()
