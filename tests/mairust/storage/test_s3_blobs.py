"""What the S3 blob backend promises beyond the BlobStore contract (test_file_blobs.py runs
that contract on S3 too): its URL, its key layout, multipart uploads, checks of what it reads,
and a clear StorageUnavailable whenever the server is out of reach.

The servers are real: the shared one from `.ci/services/s3.sh`, and, for the test that
stops a server in the middle of a run, one of the test's own.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from mairust.config import StorageSettings
from mairust.errors import StorageUnavailable
from mairust.storage.factory import migrate, open_stores
from mairust.storage.s3_blobs import S3BlobStore
from tests.support.s3_buckets import (
    OwnS3Server,
    fresh_s3_blob_store,
    raw_s3_client,
    s3_test_url,
    with_fresh_prefix,
)

MIB = 1024 * 1024
# Short enough that a test of an unreachable server ends in seconds.
IMPATIENT: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 1.0, "max_attempts": 2}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[S3BlobStore]:
    opened = fresh_s3_blob_store(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests get signed, so a missing key cannot pass for an unreachable server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unused")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unused")


# -- URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "s3:///no-bucket",
        "http://bucket/prefix",
        "s3://bucket/prefix?endpoint=http://127.0.0.1:1&colour=blue",
        "s3://bucket/prefix#fragment",
    ],
)
def test_urls_we_cannot_serve_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        S3BlobStore.from_url(url)


def test_url_names_bucket_prefix_and_threshold(tmp_path: Path) -> None:
    url = with_fresh_prefix(s3_test_url()) + "&multipart_threshold=6291456"
    opened = S3BlobStore.from_url(url)
    try:
        assert opened.bucket == "mairust-test"
        assert opened.prefix.startswith("t-")
        assert opened.multipart_threshold == 6 * MIB
    finally:
        opened.close()


def test_factory_opens_s3_urls(tmp_path: Path) -> None:
    storage = StorageSettings(
        metadata=f"sqlite:///{tmp_path / 'metadata.db'}",
        blobs=with_fresh_prefix(s3_test_url()),
        search=f"fts5://{tmp_path / 'search.db'}",
    )
    migrate(storage)
    stores = open_stores(storage)
    try:
        assert isinstance(stores.blobs, S3BlobStore)
        key = stores.blobs.put(b"through the factory").key
        assert stores.blobs.get(key) == b"through the factory"
    finally:
        stores.close()


def test_credentials_from_the_config_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    storage = StorageSettings(
        metadata=f"sqlite:///{tmp_path / 'metadata.db'}",
        blobs=with_fresh_prefix(s3_test_url()),
        search=f"fts5://{tmp_path / 'search.db'}",
        s3_access_key_id=key_id,
        s3_secret_access_key=secret,
    )
    migrate(storage)
    stores = open_stores(storage)
    try:
        assert stores.blobs.get(stores.blobs.put(b"config credentials").key) == (
            b"config credentials"
        )
    finally:
        stores.close()


# -- layout ---------------------------------------------------------------------------


def test_one_object_per_blob_under_the_prefix(store: S3BlobStore) -> None:
    info = store.put(b"where does it go")
    client = raw_s3_client(s3_test_url())
    listed = client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}/")
    assert [item["Key"] for item in listed["Contents"]] == [f"{store.prefix}/{info.key}"]
    head = client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/{info.key}")
    assert head["Metadata"]["sha256"] == info.sha256


def test_prefixes_keep_stores_apart(tmp_path: Path, store: S3BlobStore) -> None:
    other = fresh_s3_blob_store(tmp_path)
    try:
        info = store.put(b"only in the first")
        assert not other.exists(info.key)
        other.put(b"only in the first")
        other.delete(info.key)
        assert store.get(info.key) == b"only in the first"
    finally:
        other.close()


# -- multipart ------------------------------------------------------------------------


def test_multipart_above_the_threshold_only(tmp_path: Path) -> None:
    store = fresh_s3_blob_store(tmp_path, multipart_threshold=5 * MIB, part_size=5 * MIB)
    client = raw_s3_client(s3_test_url())
    try:
        large = os.urandom(11 * MIB)  # parts of 5, 5 and 1 MiB
        small = os.urandom(5 * MIB - 1)
        large_key = store.put(large).key
        small_key = store.put(small).key
        large_etag = client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/{large_key}")
        small_etag = client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/{small_key}")
        # A multipart ETag is md5(md5(part 1) + md5(part 2) + ...) followed by "-<parts>".
        parts = [large[i : i + 5 * MIB] for i in range(0, len(large), 5 * MIB)]
        joined = b"".join(hashlib.md5(part).digest() for part in parts)
        assert large_etag["ETag"].strip('"') == f"{hashlib.md5(joined).hexdigest()}-3"
        assert small_etag["ETag"].strip('"') == hashlib.md5(small).hexdigest()
        assert store.get(large_key) == large
        assert store.get(small_key) == small
    finally:
        store.close()


def test_a_failed_multipart_upload_is_aborted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fresh_s3_blob_store(tmp_path, multipart_threshold=5 * MIB, part_size=5 * MIB)
    real_upload_part = store._client.upload_part

    def second_part_fails(**request: Any) -> dict[str, Any]:
        if request["PartNumber"] == 2:
            error = {"Error": {"Code": "InternalError", "Message": "disk on fire"}}
            raise ClientError(error, "UploadPart")
        answer: dict[str, Any] = real_upload_part(**request)
        return answer

    monkeypatch.setattr(store._client, "upload_part", second_part_fails)
    data = os.urandom(11 * MIB)
    try:
        with pytest.raises(StorageUnavailable):
            store.put(data)
        assert not store.exists(hashlib.sha256(data).hexdigest())
        uploads = raw_s3_client(s3_test_url()).list_multipart_uploads(
            Bucket=store.bucket, Prefix=f"{store.prefix}/"
        )
        assert uploads.get("Uploads", []) == []
    finally:
        store.close()


def test_a_large_blob_already_stored_is_not_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = fresh_s3_blob_store(tmp_path, multipart_threshold=5 * MIB, part_size=5 * MIB)
    data = os.urandom(6 * MIB)
    first = store.put(data)

    def must_not_upload(**request: Any) -> dict[str, Any]:
        raise AssertionError("the blob was sent again")

    monkeypatch.setattr(store._client, "create_multipart_upload", must_not_upload)
    try:
        assert store.put(data) == first
    finally:
        store.close()


# -- what comes back ------------------------------------------------------------------


def test_a_damaged_object_is_not_returned(store: S3BlobStore) -> None:
    info = store.put(b"the original")
    raw_s3_client(s3_test_url()).put_object(
        Bucket=store.bucket, Key=f"{store.prefix}/{info.key}", Body=b"the 0riginal"
    )
    with pytest.raises(StorageUnavailable, match="damaged"):
        store.get(info.key)


# -- out of reach ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.usefixtures("dummy_credentials")
def test_a_refused_connection_is_unavailable_quickly() -> None:
    began = time.monotonic()
    # Opening succeeds (a process must start while S3 is away); the first write fails.
    store = S3BlobStore("blobs", endpoint_url=f"http://127.0.0.1:{_free_port()}", **IMPATIENT)
    with pytest.raises(StorageUnavailable) as raised:
        store.put(b"not durable")
    assert time.monotonic() - began < 20
    assert isinstance(raised.value.__cause__, EndpointConnectionError)


@pytest.mark.usefixtures("dummy_credentials")
def test_a_server_that_never_answers_is_unavailable_after_the_read_timeout() -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody reads them
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        began = time.monotonic()
        store = S3BlobStore("blobs", endpoint_url=endpoint, **IMPATIENT)
        with pytest.raises(StorageUnavailable) as raised:
            store.put(b"not durable")
        assert time.monotonic() - began < 20
    assert isinstance(raised.value.__cause__, ReadTimeoutError)


def test_a_server_stopped_mid_run_then_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OwnS3Server(tmp_path / "own-s3") as server:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, server.environment[name])
        store = S3BlobStore.from_url(with_fresh_prefix(server.url), **IMPATIENT)
        try:
            before = store.put(b"stored before the outage")
            server.pause()
            began = time.monotonic()
            with pytest.raises(StorageUnavailable):
                store.put(b"sent during the outage")
            with pytest.raises(StorageUnavailable):
                store.get(before.key)
            with pytest.raises(StorageUnavailable):
                store.exists(before.key)
            assert time.monotonic() - began < 30
            server.resume()
            after = store.put(b"sent during the outage")
            assert store.get(after.key) == b"sent during the outage"
            assert store.get(before.key) == b"stored before the outage"
        finally:
            store.close()
