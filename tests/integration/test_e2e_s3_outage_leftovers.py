"""Scenario: S3 goes away in the middle of a load of small and multipart-sized messages
under `mairust up`, and comes back: a private S3Proxy stopped (SIGTERM), or killed (SIGKILL)
while a multipart upload is in flight.

The promises hold (every 250 delivered exactly once, nothing unsent stored), and what the
failed writes left in the bucket — blobs whose message was never committed, multipart
uploads that could not abort while S3 was away — is removed by `mairust storage sweep`,
which leaves every blob a message row names in place.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.delivery_audit import audit, queue_counts, server_settings
from tests.support.mail_load import MailLoad
from tests.support.mairust_server import wait_for
from tests.support.s3_buckets import raw_s3_client
from tests.support.services import unique

RECIPIENTS = ("alice@example.test",)
SERVER_TEMP_FILE = re.compile(
    r"[0-9a-f]{64}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
MULTIPART_THRESHOLD = 1024 * 1024
BIG = 6 * 1024 * 1024


def bucket_contents(client, bucket: str) -> tuple[set[str], list[str]]:
    """(object keys, unfinished multipart uploads) in ``bucket``."""
    objects: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects |= {item["Key"] for item in page.get("Contents", [])}
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return objects, [upload["Key"] for upload in uploads]


@pytest.mark.parametrize("outage", ["stopped", "killed mid-upload"])
def test_s3_outage_leaves_nothing_behind_the_sweep(
    outage: str, new_server, service, tmp_path: Path, monkeypatch
) -> None:
    s3 = service("s3")
    for key, value in s3.env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)  # mairust up and its CLI inherit the credentials
    bucket = unique("e2e")
    blobs = s3.env["MAIRUST_TEST_S3_URL"].replace("s3://mairust-test", f"s3://{bucket}")
    blobs += f"&multipart_threshold={MULTIPART_THRESHOLD}"
    config = tmp_path / "mairust.toml"
    config.write_text(
        f'[storage]\nblobs = "{blobs}"\n'
        "[queue]\npoll_interval = 0.5\nretry_base_seconds = 1.0\n"
        f"[smtp]\nmax_message_size = {4 * BIG}\n"
    )
    server = new_server(config=config)
    server.start()
    server.add_user(RECIPIENTS[0])
    settings = server_settings(server.data_dir, config)

    small = MailLoad(server.smtp_port, RECIPIENTS, sessions=3, per_session=10_000, pause=0.05)
    big = MailLoad(server.smtp_port, RECIPIENTS, sessions=2, per_session=10_000, size=BIG)
    small.start()
    big.start()
    wait_for(
        lambda: len(small.acknowledged) >= 20 and len(big.acknowledged) >= 2,
        timeout=180,
        what="mail stored in S3 before the outage",
    )
    client = raw_s3_client(blobs)
    if outage == "stopped":
        s3.pause()
    else:
        wait_for(
            lambda: bucket_contents(client, bucket)[1],
            timeout=120,
            interval=0.02,
            what="a multipart upload in flight",
        )
        s3.kill9()
    time.sleep(5)
    s3.resume()
    time.sleep(5)
    small.stop()
    big.stop()
    assert server.proc is not None and server.proc.poll() is None, "mairust up crashed"
    refused = [a for load in (small, big) for a in load.snapshot() if a.code and a.code != 250]
    assert refused and all(400 <= (a.code or 0) < 500 for a in refused)  # 451 while away

    def all_done() -> bool:
        counts = queue_counts(settings)
        return sum(counts.values()) == counts["done"] > 0

    wait_for(all_done, timeout=120, what="every queue row done")
    for load in (small, big):
        assert audit(load.snapshot(), settings, f"tok{load.run_id}") == []

    engine = sa.create_engine(settings.storage.metadata)
    with engine.connect() as conn:
        named = set(conn.execute(sa.text("SELECT blob_key FROM messages")).scalars())
    engine.dispose()
    objects, uploads = bucket_contents(client, bucket)
    assert named <= objects  # every committed message's blob is there
    print(f"before the sweep: {len(objects - named)} orphaned blobs, {len(uploads)} uploads")

    swept = server.cli("storage", "sweep", "--older-than", "0")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    print(swept.stdout.strip())
    objects, uploads = bucket_contents(client, bucket)
    # S3Proxy's filesystem store writes an object under "<key>-<uuid>" and renames it when
    # complete: killed mid-write, the temporary file stays and is listed. That debris is the
    # S3 server's own (a real S3 has none); the sweeper rightly leaves objects not named
    # like ours. Everything else not named by a message row must be gone.
    debris = {key for key in objects - named if SERVER_TEMP_FILE.fullmatch(key)}
    if outage == "stopped":
        assert debris == set()  # a clean stop leaves no temporary file
    assert objects - debris == named, f"orphans left: {sorted(objects - debris - named)[:5]}"
    assert uploads == []
    server.stop()
