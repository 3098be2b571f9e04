"""BlobPurger on the file and the S3 blob store: a purge deletes the body it freed, keeps
one another message names, and keeps one a delivery of the same bytes writes between the
purge's transaction and its delete (S3 keeps whole seconds, so that test waits 3 s to have
a body clearly older than the purge's moment; the real grace, an hour, covers it).

Each test checks its precondition (the body was written before the purge's moment), so a
purger that deleted regardless would fail here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.model.scope import PLATFORM, TenantScope
from mairust.services.purging import BlobPurger
from mairust.storage.blob_sweep import SweepableBlobStore
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.protocols import BlobStore
from mairust.storage.stores import Stores
from tests.mairust.services.conftest import Tenants
from tests.mairust.services.test_mailboxes import RacingBlobs, deliver, raw_message
from tests.support.s3_buckets import fresh_s3_blob_store

BLOBS: dict[str, Callable[[Path], BlobStore]] = {
    "file": lambda tmp: FileBlobStore(tmp / "purge-blobs"),
    "s3": fresh_s3_blob_store,  # fails (never skips) when no server is running
}


@pytest.fixture(params=sorted(BLOBS))
def on_blobs(request: pytest.FixtureRequest, stores: Stores, tmp_path: Path) -> Iterator[Stores]:
    blobs = BLOBS[request.param](tmp_path)
    yield Stores(stores.metadata, blobs, stores.search)
    blobs.close()


def began_seconds_ago(seconds: float) -> Callable[[], datetime]:
    moment = datetime.now(UTC) - timedelta(seconds=seconds)
    return lambda: moment


def test_a_purge_deletes_the_body_it_freed(on_blobs: Stores, tenants: Tenants) -> None:
    [entry] = deliver(on_blobs, [tenants.alice], folder="Trash")
    # As if the purge ran two hours later: the body is older than the grace period.
    purger = BlobPurger(on_blobs, timedelta(hours=1), clock=began_seconds_ago(-7200))
    outcome = purger.purge(TenantScope(tenants.a.id), [entry.id], "Trash")
    assert outcome.entry_ids == (entry.id,) and outcome.blobs_deleted == 1
    assert not on_blobs.blobs.exists(entry.blob_key)


def test_a_body_another_message_names_stays(on_blobs: Stores, tenants: Tenants) -> None:
    raw = raw_message("twins")
    [entry] = deliver(on_blobs, [tenants.alice], raw, folder="Trash")
    deliver(on_blobs, [tenants.amos], raw)
    purger = BlobPurger(on_blobs, timedelta(hours=1), clock=began_seconds_ago(-7200))
    outcome = purger.purge(PLATFORM, [entry.id], "Trash")
    assert outcome.entry_ids == (entry.id,) and outcome.blobs_deleted == 0
    assert on_blobs.blobs.get(entry.blob_key) == raw


def test_a_delivery_racing_the_delete_keeps_its_body(on_blobs: Stores, tenants: Tenants) -> None:
    raw = raw_message("race")
    [entry] = deliver(on_blobs, [tenants.alice], raw, folder="Trash")
    time.sleep(3)  # S3 times are whole seconds: the body must be clearly older than the moment
    began = began_seconds_ago(1)
    blobs = on_blobs.blobs
    assert isinstance(blobs, SweepableBlobStore)
    # Without the race the body would go: it was written before the purge's moment.
    assert entry.blob_key in {blob.key for blob in blobs.blobs_written_before(began())}
    racing = RacingBlobs(on_blobs, raw, tenants.amos.address)
    racing_stores = Stores(on_blobs.metadata, racing, on_blobs.search)
    purger = BlobPurger(racing_stores, timedelta(0), clock=began)
    outcome = purger.purge(PLATFORM, [entry.id], "Trash")
    assert racing.raced and outcome.blobs_deleted == 0
    assert on_blobs.blobs.get(entry.blob_key) == raw
