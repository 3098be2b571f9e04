"""Two regions as two real `mairust up` processes on loopback, for the regions scenario.

Region ``a`` runs on the embedded stores (SQLite, files, FTS5) of its data directory;
region ``b`` on the shared PostgreSQL, S3 and OpenSearch servers, in a database, bucket and
index of its own that :func:`production_places` creates and drops. Both read one regions
file (:func:`write_region_file`) naming each one's stores, relay endpoint (``b``'s: its
inbound port under the name of its certificate, which the test's DNS server resolves to
127.0.0.1), relay login and API URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from mairust.config import load_settings
from tests.integration.conftest import production_config
from tests.support.mairust_server import MairustServer
from tests.support.opensearch_indexes import admin_client
from tests.support.s3_buckets import raw_s3_client


def region_toml(name: str, dns_port: int, *, regions: Path, ca_file: Path) -> str:
    """The config sections every region of the scenario has: its host name, the test's
    DNS server, a quick retry schedule (1 s, no growth, no jitter), the CA bundle the
    other region's relay certificate is checked against, and the regions file."""
    return (
        f'[smtp]\nhostname = "mx.{name}.test"\n'
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns_port}\ntimeout = 1.0\n'
        "[outbound]\npoll_interval = 0.2\nretry_initial_seconds = 1.0\n"
        "retry_factor = 1.0\nretry_jitter = 0.0\n"
        f'[outbound_tls]\nca_file = "{ca_file}"\n'
        f'[regions]\nfile = "{regions}"\nlocal = "{name}"\n'
    )


def with_tls(toml: str, cert: Path, key: Path) -> str:
    """``toml`` whose [smtp] table also names the listeners' certificate."""
    return toml.replace(
        "[smtp]\n", f'[smtp]\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n', 1
    )


@contextlib.contextmanager
def production_places(base: Path, extra: str) -> Iterator[Path]:
    """A config (with ``extra``) naming a new database, bucket and index on the shared
    servers; all three are dropped afterwards."""
    base.mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        config = production_config(base, cleanup, extra)
        try:
            yield config
        finally:
            drop_bucket_and_index(config)


def drop_bucket_and_index(config: Path) -> None:
    """Drop the bucket and the index the config names (its database has its own owner)."""
    storage = load_settings(config).storage
    index = parse_qs(urlsplit(storage.search).query)["index"][0]
    search = admin_client()
    s3 = raw_s3_client(storage.blobs)
    bucket = urlsplit(storage.blobs).netloc
    try:
        search.indices.delete(index=index, ignore_unavailable=True)
        with contextlib.suppress(s3.exceptions.NoSuchBucket):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            s3.delete_bucket(Bucket=bucket)
    finally:
        search.close()
        s3.close()


def write_region_file(
    path: Path,
    servers: dict[str, MairustServer],
    relay_host: str,
    logins: dict[str, tuple[str, str]],
) -> Path:
    """The regions file of ``servers`` (name -> server): each one's stores as its config
    names them (without a password), its relay endpoint ``relay_host:<smtp port>``, the
    login (user name, id of the password's secret in the sending region), its API and
    its submission port."""
    parts = []
    for index, (name, server) in enumerate(servers.items()):
        storage = load_settings(server.config, data_dir=server.data_dir).storage
        username, secret = logins[name]
        parts.append(
            f"""
[[regions]]
name = "{name}"
ray_address = "127.0.0.1:{6379 + index}"
metadata = "{without_password(storage.metadata)}"
blobs = "{storage.blobs}"
search = "{storage.search}"
relay_endpoint = "{relay_host}:{server.smtp_port}"
relay_username = "{username}"
relay_password_secret = "{secret}"
api_url = "http://127.0.0.1:{server.api_port}"
submission_endpoint = "127.0.0.1:{server.submission_port}"
"""
        )
    path.write_text("".join(parts), encoding="utf-8")
    return path


def without_password(url: str) -> str:
    """A database URL without its password (a regions file never holds one)."""
    parsed = sa.make_url(url)
    # URL.set(password=None) keeps the password (None means "unchanged" there).
    return parsed._replace(password=None).render_as_string(hide_password=False)
