"""``S3BlobStore``: message bodies as content-addressed objects in S3 (the production blob role).

One object per message at ``bucket/prefix/<sha256 hex>``. ``put`` returns only after S3
answered the PutObject (or CompleteMultipartUpload) with success: that answer is the
durability point of the 250 promise. Every request carries Content-MD5, so the server
refuses bytes damaged on the way; ``get`` checks the sha256 of what came back against the key.
Anything short of success raises :class:`StorageUnavailable` and leaves no object behind
(a failed multipart upload is aborted). Bodies above ``multipart_threshold`` go up in parts.

URL: ``s3://bucket/optional/prefix?endpoint=http://host:port&region=eu-west-1``.
Credentials come from the standard AWS chain (environment, shared config, instance role);
endpoint and region fall back to ``AWS_ENDPOINT_URL`` and ``AWS_REGION``/``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from mairust.errors import InvalidInput, NotFound, StorageUnavailable
from mairust.model.message import BlobInfo
from mairust.storage.blob_sweep import UnfinishedUpload, WrittenBlob

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_KEY = re.compile(r"[0-9a-f]{64}")
_MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_UPLOAD_MISSING = frozenset({"404", "NoSuchUpload"})
_BUCKET_MISSING = frozenset({"404", "NoSuchBucket", "NotFound"})
_BUCKET_EXISTS = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_URL_OPTIONS = frozenset({"endpoint", "region", "multipart_threshold"})


class S3Client(Protocol):
    """The part of botocore's S3 client this store calls (boto3 ships no type hints)."""

    def head_bucket(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_bucket(self, **kwargs: Any) -> dict[str, Any]: ...
    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_part(self, **kwargs: Any) -> dict[str, Any]: ...
    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def abort_multipart_upload(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_multipart_uploads(self, **kwargs: Any) -> dict[str, Any]: ...
    def close(self) -> None: ...


class S3BlobStore:
    """Implements :class:`mairust.storage.protocols.BlobStore`; thread-safe (one shared client)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = 8 * MIB,
        part_size: int = 8 * MIB,
        connect_timeout: float = 3.0,
        read_timeout: float = 20.0,
        max_attempts: int = 4,
        max_connections: int = 32,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 blob store needs a bucket name")
        if part_size < _MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {_MIN_PART_SIZE} bytes (S3's minimum)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.multipart_threshold = max(multipart_threshold, 1)
        self.part_size = part_size
        endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # "standard" retries 5xx, throttling and connection errors with jittered backoff.
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=max_connections,
            # Path-style URLs: S3-compatible servers on an IP or a plain host name have no
            # wildcard DNS for bucket sub-domains.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Many S3-compatible servers reject botocore's default CRC trailers; integrity is
            # covered by Content-MD5 on every write and the sha256 check on every read.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # Sessions are not thread-safe, clients are: build one client here, share it.
        session = boto3.session.Session()
        # Credentials from the config when given, else boto3's chain (AWS_* variables, files).
        self._client: S3Client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=config,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
        )
        self._region = region
        # A process must start while S3 is away (the SMTP edge then answers 451): a bucket
        # that cannot be checked now is checked again before the first write.
        self._bucket_ready = False
        try:
            self._ensure_bucket()
            self._bucket_ready = True
        except StorageUnavailable as error:
            log.warning("bucket %s not checked yet: %s", bucket, error)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3BlobStore:
        """Open ``s3://bucket/prefix?endpoint=...&region=...&multipart_threshold=BYTES``."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc or parts.fragment:
            raise ValueError(f"blob store URL must be s3://bucket/optional/prefix, got {url!r}")
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        unknown = set(query) - _URL_OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) in {url!r}: {', '.join(sorted(unknown))}")
        single = {name: values[-1] for name, values in query.items()}
        if "multipart_threshold" in single:
            options.setdefault("multipart_threshold", int(single["multipart_threshold"]))
        return cls(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=single.get("endpoint") or None,
            region=single.get("region") or None,
            **options,
        )

    # -- BlobStore ---------------------------------------------------------------------

    def put(self, data: bytes) -> BlobInfo:
        digest = hashlib.sha256(data).hexdigest()
        name = self._object_name(digest)
        if not self._bucket_ready:
            self._ensure_bucket()
            self._bucket_ready = True
        with self._unavailable_on_failure(f"blob {digest} not stored"):
            if len(data) < self.multipart_threshold:
                # Same key means same bytes, so re-putting is harmless; skipping a HEAD
                # keeps the common (small) put at one round trip before the 250.
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=name,
                    Body=data,
                    ContentMD5=_md5_base64(data),
                    Metadata={"sha256": digest},
                )
            elif not self._holds(name, len(data)):
                self._put_in_parts(name, data, digest)
        return BlobInfo(key=digest, sha256=digest, size=len(data))

    def get(self, key: str) -> bytes:
        name = self._object_name(key)
        with self._unavailable_on_failure(f"blob {key} not read"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=name)
            except ClientError as error:
                if _code(error) in _MISSING:
                    raise NotFound(f"no such blob: {key}") from error
                raise
            with response["Body"] as body:
                data: bytes = body.read()
        if hashlib.sha256(data).hexdigest() != key:
            log.error("blob %s came back from S3 with other content (%d bytes)", key, len(data))
            raise StorageUnavailable(f"blob {key} read back damaged")
        return data

    def exists(self, key: str) -> bool:
        name = self._object_name(key)
        with self._unavailable_on_failure(f"blob {key} not checked"):
            return self._holds(name, None)

    def delete(self, key: str) -> None:
        name = self._object_name(key)
        with self._unavailable_on_failure(f"blob {key} not deleted"):
            self._client.delete_object(Bucket=self.bucket, Key=name)  # absent: also success

    def close(self) -> None:
        self._client.close()

    # -- sweeping (mairust.storage.blob_sweep) ------------------------------------------

    def blobs_written_before(self, moment: datetime) -> Iterator[WrittenBlob]:
        """The blobs whose objects were last written before ``moment`` (aware)."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._list_prefix()}
        while True:
            with self._unavailable_on_failure("blobs not listed"):
                page = self._client.list_objects_v2(**request)
            for item in page.get("Contents", []):
                key = str(item["Key"]).rpartition("/")[2]
                # Only our own objects: right under the prefix and named by a blob key.
                ours = _KEY.fullmatch(key) and item["Key"] == self._object_name(key)
                if ours and item["LastModified"] < moment:
                    yield WrittenBlob(key, item["LastModified"])
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def delete_if_written_before(self, key: str, moment: datetime) -> bool:
        """Delete blob ``key`` unless it was written again at or after ``moment``."""
        name = self._object_name(key)
        with self._unavailable_on_failure(f"blob {key} not swept"):
            try:
                head = self._client.head_object(Bucket=self.bucket, Key=name)
            except ClientError as error:
                if _code(error) in _MISSING:
                    return False
                raise
            if head["LastModified"] >= moment:
                return False
            self._client.delete_object(Bucket=self.bucket, Key=name)
        return True

    def uploads_started_before(self, moment: datetime) -> Iterator[UnfinishedUpload]:
        """The multipart uploads under our prefix started before ``moment`` (a put that
        failed and could not abort its own, e.g. S3 went away mid-upload)."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._list_prefix()}
        while True:
            with self._unavailable_on_failure("multipart uploads not listed"):
                page = self._client.list_multipart_uploads(**request)
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < moment:
                    yield UnfinishedUpload(upload["Key"], upload["Initiated"], upload["UploadId"])
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["UploadIdMarker"] = page["NextUploadIdMarker"]

    def abort_upload(self, upload: UnfinishedUpload) -> bool:
        """Abort a multipart upload listed by :meth:`uploads_started_before`."""
        if not upload.name.startswith(self._list_prefix()) or not upload.upload_id:
            raise InvalidInput(f"not an upload of this store: {upload.name!r}")
        with self._unavailable_on_failure(f"multipart upload {upload.upload_id} not aborted"):
            try:
                self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload.name, UploadId=upload.upload_id
                )
            except ClientError as error:
                if _code(error) in _UPLOAD_MISSING:
                    return False
                raise
        return True

    # -- internals ---------------------------------------------------------------------

    def _list_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _object_name(self, key: str) -> str:
        # Only 64 lower-case hex digits: a key can never name an object outside the prefix.
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidInput(f"not a blob key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _holds(self, name: str, size: int | None) -> bool:
        """Whether the object exists (with ``size`` bytes, when given)."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as error:
            if _code(error) in _MISSING:
                return False
            raise
        return size is None or int(head["ContentLength"]) == size

    def _put_in_parts(self, name: str, data: bytes, digest: str) -> None:
        upload = self._client.create_multipart_upload(
            Bucket=self.bucket, Key=name, Metadata={"sha256": digest}
        )
        upload_id: str = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            view = memoryview(data)
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = bytes(view[start : start + self.part_size])
                answer = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ContentMD5=_md5_base64(chunk),
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self._abort(name, upload_id)
            raise
        log.debug("blob %s stored in %d parts", digest, len(parts))

    def _abort(self, name: str, upload_id: str) -> None:
        """Drop the parts of a failed upload so no half-object can ever be completed."""
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except (BotoCoreError, ClientError) as error:
            # The put already fails; the parts left are invisible and reaped by the
            # bucket's AbortIncompleteMultipartUpload lifecycle rule.
            log.warning("multipart upload %s of %s not aborted: %s", upload_id, name, error)

    def _ensure_bucket(self) -> None:
        with self._unavailable_on_failure(f"bucket {self.bucket} not usable"):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if _code(error) not in _BUCKET_MISSING:
                    raise
            log.info("creating bucket %s", self.bucket)
            request: dict[str, Any] = {"Bucket": self.bucket}
            if self._region and self._region != "us-east-1":
                request["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            try:
                self._client.create_bucket(**request)
            except ClientError as error:
                if _code(error) not in _BUCKET_EXISTS:
                    raise
                # Another process created it first; it must now be ours to use.
                self._client.head_bucket(Bucket=self.bucket)

    @contextmanager
    def _unavailable_on_failure(self, what: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            log.error("%s: %s", what, error)
            raise StorageUnavailable(f"S3 blob store: {what}: {error}") from error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _md5_base64(data: bytes) -> str:
    # MD5 because it is what Content-MD5 means; it guards transport, not secrets.
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
