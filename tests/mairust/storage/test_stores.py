"""``Stores``: naming it (or a role protocol) loads no backend, and closing it closes
every store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mairust.storage.stores import Stores

# Modules only a backend needs: none of them may load when a consumer names a type.
BACKEND_MODULES = (
    "mairust.storage.factory",
    "mairust.storage.sql_metadata",
    "mairust.storage.fts5_search",
    "mairust.storage.opensearch_search",
    "mairust.storage.s3_blobs",
    "mairust.storage.file_blobs",
    "sqlalchemy",
    "opensearchpy",
    "boto3",
)


def test_naming_the_types_loads_no_backend() -> None:
    # A fresh interpreter: this one has loaded the backends for other tests already.
    probe = (
        "import sys\n"
        "import mairust.storage.stores, mairust.storage.protocols\n"
        f"print([m for m in {BACKEND_MODULES!r} if m in sys.modules])\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"


def test_close_closes_every_store_even_if_one_fails() -> None:
    closed: list[str] = []

    class Closing:
        def __init__(self, name: str, fail: bool = False) -> None:
            self.name, self.fail = name, fail

        def close(self) -> None:
            closed.append(self.name)
            if self.fail:
                raise OSError("boom")

    stores = Stores(
        metadata=Closing("metadata"),  # type: ignore[arg-type]
        blobs=Closing("blobs", fail=True),  # type: ignore[arg-type]
        search=Closing("search"),  # type: ignore[arg-type]
    )
    with pytest.raises(OSError):
        stores.close()
    assert sorted(closed) == ["blobs", "metadata", "search"]
