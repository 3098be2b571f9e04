"""Indexer actor: entries left in the search backlog get indexed when search answers."""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import pytest
import ray

from actors.indexer import IndexerActor
from mairust.model.mailbox import NewEntry
from mairust.model.scope import PLATFORM

pytestmark = [pytest.mark.xdist_group("e2e")]


def test_backlog_drains_on_a_nudge(spawn, world, body, wait_until):
    alice = world.mailbox()
    ref = world.spool(body("numbat"), alice)
    mailbox = world.stores.metadata.find_mailbox(alice)
    assert mailbox is not None
    entry = world.stores.metadata.store_entry(
        NewEntry(mailbox.tenant_id, mailbox.id, ref.id, "numbat", "s@r.example", (), None, 1)
    )
    world.stores.metadata.add_to_search_backlog([entry.id])
    indexer = spawn(IndexerActor, world.settings)
    ray.get(indexer.drain_now.remote(), timeout=30)
    wait_until(
        lambda: ray.get(indexer.stats.remote(), timeout=30)["backlog"] == 0, what="backlog drained"
    )
    assert ray.get(indexer.stats.remote(), timeout=30)["indexed"] == 1
    hits = world.stores.search.search(PLATFORM, "numbat")
    assert [h.entry_id for h in hits] == [entry.id]
