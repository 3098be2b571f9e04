"""Fresh places in the test S3 server that `.ci/services/s3.sh` starts, and servers of a
test's own for fault tests.

The server's address comes from ``MAIRUST_TEST_S3_URL`` and its credentials from
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (``make test`` and ``.ci/with-services.sh``
set them). A test that needs S3 and finds no server FAILS, saying how to start one: a
skipped backend would pass for a tested one. Each store gets a prefix of its own in the
shared bucket, so tests never see each other's blobs.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from mairust.storage.s3_blobs import S3BlobStore
from tests.support.services import required_env

URL_VARIABLE = "MAIRUST_TEST_S3_URL"
SERVICE_SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "services" / "s3.sh"


def s3_test_url() -> str:
    """The test server's URL; fails the calling test when the services are not running."""
    return required_env(URL_VARIABLE, "the S3 tests")


def with_fresh_prefix(url: str) -> str:
    """``url`` with a new, unused key prefix in its bucket."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/t-{os.getpid()}-{secrets.token_hex(6)}"))


def fresh_s3_blob_store(tmp: Path, **options: Any) -> S3BlobStore:
    """An empty S3 blob store on the test server (``tmp`` is unused: the signature of
    ``conftest.BLOB_BACKENDS``)."""
    return S3BlobStore.from_url(with_fresh_prefix(s3_test_url()), **options)


def raw_s3_client(url: str) -> Any:
    """A plain boto3 client on the server of ``url``, to look behind a store's back."""
    query = parse_qs(urlsplit(url).query)
    return boto3.session.Session().client(
        "s3",
        endpoint_url=query["endpoint"][0],
        region_name=query["region"][0],
        config=Config(
            s3={"addressing_style": "path"}, request_checksum_calculation="when_required"
        ),
    )


def object_names(url: str) -> list[str]:
    """Every object under the bucket and prefix of the store at ``url``, listed by boto3
    itself (credentials from the AWS_* variables). A missing bucket is an error, not an
    empty list: a store opens (creates) its bucket when it starts, so a listing of no
    bucket asks the wrong place and would make "nothing stored" always true."""
    parts = urlsplit(url)
    prefix = unquote(parts.path).strip("/")
    client = raw_s3_client(url)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=parts.netloc, Prefix=f"{prefix}/" if prefix else ""
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    finally:
        client.close()


class OwnS3Server:
    """A server of the calling test's own (``with OwnS3Server(dir) as server:``), which it
    may stop and start again without disturbing tests that run beside it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.environment: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.environment[URL_VARIABLE]

    def __enter__(self) -> OwnS3Server:
        lines = self._script("start").splitlines()
        pairs = (line.split("=", 1) for line in lines if "=" in line)
        # The script quotes values for the shell's sake (the URL holds an &).
        self.environment = {name: value.strip("'") for name, value in pairs}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._script("stop")

    def pause(self) -> None:
        """Stop the server; its port, credentials and data are kept for :meth:`resume`."""
        self._script("pause")

    def resume(self) -> None:
        self._script("resume")

    def _script(self, action: str) -> str:
        done = subprocess.run(
            ["bash", str(SERVICE_SCRIPT), action, str(self.state_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"s3.sh {action} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout
