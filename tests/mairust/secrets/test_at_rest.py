"""No secret is stored in the clear, on either backend.

A tenant with an API token, a mailbox user with a password, a DKIM key, a webhook with
its signing secret, a plugin secret and a relay password are set up as the product sets
them up (the API; the relay password as ``mairust secrets relay-password`` seals it).
Then every byte the platform stored is read raw: every file under the data directory
(the SQLite databases with their WAL, the blob store, the key file), and in production
every text and binary column of every table (found through information_schema) and
every S3 object. None of the clear values may appear; a marker that is stored in the
clear on purpose (the domain name) must, so the scan is known to look in the right places.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from mairust.api import create_app
from mairust.config import Settings
from mairust.model.scope import TenantScope
from mairust.model.secrets import SecretPurpose
from mairust.secrets.master_key import load_keyring
from mairust.secrets.vault import SecretVault
from mairust.storage.factory import migrate, open_stores
from mairust.storage.sql_engine import postgres_url
from tests.support.bola import MATRIX_PLUGIN, matrix_plugin_dir
from tests.support.postgres_databases import PostgresDatabases, postgres_test_url
from tests.support.s3_buckets import raw_s3_client, s3_test_url, with_fresh_prefix

ADMIN = "operator-token-at-rest"
DOMAIN = "at-rest.example"
PASSWORD = "Tr0ub4dor&3-clear-password"
PLUGIN_SECRET = "plugin-secret-value-9f3c2b"
RELAY_PASSWORD = "relay-password-value-71ad0e"
# Stored in the clear on purpose (a message body): the scan must find it.
MARKER = "walrus-marker-body-text"


@pytest.fixture(scope="module")
def databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_test_url())
    yield databases
    databases.close()


@pytest.fixture(params=["embedded", "production"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    sections: dict[str, Any] = {
        "api": {"admin_token": ADMIN},
        "hooks": {"allow_networks": ["127.0.0.1/32"]},
        "webhooks": {"allow_networks": ["127.0.0.1/32"], "allow_http": True},
    }
    if request.param == "embedded":
        yield Settings(data_dir=tmp_path / "data", **sections)
        return
    databases: PostgresDatabases = request.getfixturevalue("databases")
    with databases.database(migrated=False) as url:
        storage = {"metadata": url, "blobs": with_fresh_prefix(s3_test_url())}
        # A shared store needs the key from the configuration (every node the same one).
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        yield Settings(
            data_dir=tmp_path / "data", storage=storage, secrets={"key": key}, **sections
        )


async def _set_up_secrets(settings: Settings, plugins: Path) -> list[bytes]:
    """Every kind of secret, set up as the product does; their clear values."""
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    keyring = load_keyring(settings)
    app = create_app(settings, stores, keyring.token_digest_keys(), keyring=keyring)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers=headers
            ) as http,
        ):

            async def ok(method: str, path: str, body: Any) -> Any:
                answer = await http.request(method, path, json=body)
                assert 200 <= answer.status_code < 300, answer.text
                return answer.json() if answer.content else None

            await ok("POST", "/api/v1/domains", {"name": DOMAIN})
            user = await ok(
                "POST", "/api/v1/users", {"address": f"alice@{DOMAIN}", "password": PASSWORD}
            )
            tenant = user["tenant_id"]
            token = await ok(
                "POST",
                "/api/v1/tokens",
                {
                    "name": "t",
                    "role": "tenant_admin",
                    "tenant_id": tenant,
                    "permissions": ["admin"],
                },
            )
            await ok("POST", f"/api/v1/domains/{DOMAIN}/dkim-keys", {"algorithm": "rsa2048"})
            hook = await ok(
                "POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/h", "tenant_id": tenant}
            )
            path = matrix_plugin_dir(plugins, "1.0.0", ("api-key",))
            await ok("POST", "/api/v1/admin/plugins", {"path": str(path)})
            await ok(
                "PUT",
                f"/api/v1/admin/plugins/{MATRIX_PLUGIN}/secrets/api-key",
                {"value": PLUGIN_SECRET},
            )
            # A message, so the blob store holds something the scan must find.
            mail = {"from": f"alice@{DOMAIN}", "to": ["far@remote.example"], "text": MARKER}
            await ok("POST", "/api/v1/send", mail)
        # What `mairust secrets relay-password` does with what it reads.
        vault = SecretVault(stores.metadata, keyring)
        vault.create_platform(SecretPurpose.RELAY_PASSWORD, RELAY_PASSWORD.encode())
        scope = TenantScope(tenant)
        [dkim] = stores.metadata.list_dkim_keys(scope, DOMAIN)
        pem = vault.reveal(scope, dkim.secret_id)
    finally:
        stores.close()
    assert b"PRIVATE KEY" in pem
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    der = base64.b64decode(body)
    clear = [PASSWORD, token["token"], hook["secret"], PLUGIN_SECRET, RELAY_PASSWORD]
    # The key as PEM lines, as one base64 string, and its DER bytes (a slice of each).
    return [value.encode() for value in clear] + [pem.splitlines()[1], body[64:200], der[64:200]]


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes()


def _postgres_columns(url: str) -> Iterator[tuple[str, bytes]]:
    engine = sa.create_engine(postgres_url(url))
    try:
        with engine.connect() as conn:
            columns = conn.execute(
                sa.text(
                    "SELECT table_name, column_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND data_type IN"
                    " ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')"
                )
            ).all()
            assert columns, "no text columns found: the scan looks in the wrong place"
            for table, column in columns:
                values = conn.execute(sa.text(f'SELECT "{column}" FROM "{table}"')).scalars()
                for value in values:
                    if value is None:
                        continue
                    raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value)
                    yield f"{table}.{column}", raw if isinstance(raw, bytes) else raw.encode()
    finally:
        engine.dispose()


def _s3_objects(url: str) -> Iterator[tuple[str, bytes]]:
    parts = urlsplit(url)
    prefix = unquote(parts.path).strip("/")
    client = raw_s3_client(url)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=parts.netloc, Prefix=f"{prefix}/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                got = client.get_object(Bucket=parts.netloc, Key=item["Key"])
                yield item["Key"], got["Body"].read()
    finally:
        client.close()


async def test_no_secret_is_stored_in_the_clear(settings: Settings, tmp_path: Path) -> None:
    clear = await _set_up_secrets(settings, tmp_path / "plugins")
    places = list(_files(settings.data_dir))
    if settings.storage.metadata.startswith("postgresql"):
        rows = list(_postgres_columns(settings.storage.metadata))
        assert any(DOMAIN.encode() in raw for _, raw in rows), "no domain in the tables"
        objects = list(_s3_objects(settings.storage.blobs))
        assert any(MARKER.encode() in raw for _, raw in objects), "no message in S3"
        places += rows + objects
    else:
        assert any(DOMAIN.encode() in raw for _, raw in places), "no domain in the files"
        assert any(MARKER.encode() in raw for _, raw in places), "no message in the files"
    found = [(where, value[:12]) for where, raw in places for value in clear if value in raw]
    assert found == []
