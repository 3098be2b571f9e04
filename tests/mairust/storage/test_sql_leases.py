"""The shared lease hand-back refuses the prefix that would match every owner."""

from __future__ import annotations

import pytest

from mairust.storage.sql_leases import release_leases_update
from mairust.storage.sql_schema import queue


def test_an_empty_owner_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        release_leases_update(queue, "leased", "queued", "", None)


def test_the_owner_kept_is_left_out() -> None:
    update = release_leases_update(queue, "leased", "queued", "node-1/", "node-1/7")
    where = str(update.whereclause)
    assert "lease_owner !=" in where and "substr" in where
