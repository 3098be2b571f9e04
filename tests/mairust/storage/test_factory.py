"""Opening the stores of each role from their URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.config import Settings, StorageSettings
from mairust.errors import StorageUnavailable
from mairust.model.scope import PLATFORM
from mairust.storage.factory import migrate, open_stores
from mairust.storage.file_blobs import FileBlobStore
from mairust.storage.fts5_search import Fts5SearchIndex
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.stores import Stores
from tests.support.postgres_databases import PostgresDatabases


def _embedded(root: Path) -> StorageSettings:
    return StorageSettings(
        metadata=f"sqlite:///{root / 'db' / 'metadata.db'}",
        blobs=f"file://{root / 'blobs'}",
        search=f"fts5://{root / 'index' / 'search.db'}",
    )


def test_embedded_defaults_open_after_migrate(tmp_path: Path) -> None:
    storage = Settings(data_dir=tmp_path / "data").storage
    migrate(storage)
    stores = open_stores(storage)
    try:
        assert isinstance(stores, Stores)
        assert isinstance(stores.metadata, SqlMetadataStore)
        assert isinstance(stores.blobs, FileBlobStore)
        assert isinstance(stores.search, Fts5SearchIndex)
        tenant = stores.metadata.create_tenant("acme")
        assert stores.metadata.list_tenants() == [tenant]
        key = stores.blobs.put(b"x").key
        assert stores.blobs.get(key) == b"x"
        assert stores.search.search(PLATFORM, "nothing") == []
    finally:
        stores.close()
    assert (tmp_path / "data" / "metadata.db").is_file()
    assert (tmp_path / "data" / "blobs").is_dir()
    assert (tmp_path / "data" / "search.db").is_file()


def test_parent_directories_are_created(tmp_path: Path) -> None:
    storage = _embedded(tmp_path / "new")
    migrate(storage)
    open_stores(storage).close()
    assert (tmp_path / "new" / "db" / "metadata.db").is_file()
    assert (tmp_path / "new" / "index" / "search.db").is_file()


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    storage = _embedded(tmp_path)
    migrate(storage)
    stores = open_stores(storage)
    stores.metadata.create_tenant("kept")
    stores.close()
    migrate(storage)
    stores = open_stores(storage)
    try:
        assert [t.name for t in stores.metadata.list_tenants()] == ["kept"]
    finally:
        stores.close()


def test_unmigrated_metadata_is_unavailable(tmp_path: Path) -> None:
    stores = open_stores(_embedded(tmp_path))  # opening never creates the schema
    try:
        with pytest.raises(StorageUnavailable):
            stores.metadata.list_tenants()
    finally:
        stores.close()


@pytest.mark.parametrize(
    ("role", "url", "names"),
    [
        ("metadata", "mysql://db/mairust", "sqlite://, postgresql://, postgres://"),
        ("blobs", "gs://bucket/prefix", "file://, s3://"),
        ("search", "https://opensearch:9200", "fts5://, opensearch://"),
        ("search", "/just/a/path", "fts5://, opensearch://"),
    ],
)
def test_unknown_schemes_name_the_supported_ones(
    tmp_path: Path, role: str, url: str, names: str
) -> None:
    storage = _embedded(tmp_path).model_copy(update={role: url})
    with pytest.raises(ValueError, match=f"unsupported {role} store URL.*{names}"):
        open_stores(storage)


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("metadata", "sqlite:///relative.db"),
        ("metadata", "sqlite://"),
        ("metadata", "sqlite:///:memory:"),
        ("blobs", "file://host/abs/blobs"),
        ("blobs", "file:relative/blobs"),
        ("search", "fts5://relative.db"),
    ],
)
def test_paths_must_be_absolute(tmp_path: Path, role: str, url: str) -> None:
    storage = _embedded(tmp_path).model_copy(update={role: url})
    with pytest.raises(ValueError):
        open_stores(storage)


def test_postgres_urls_open_the_sql_store_there(
    postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    with postgres_databases.database(migrated=False) as url:
        libpq_spelling = url.replace("postgresql://", "postgres://", 1)
        storage = _embedded(tmp_path).model_copy(update={"metadata": libpq_spelling})
        migrate(storage)
        stores = open_stores(storage)
        try:
            assert isinstance(stores.metadata, SqlMetadataStore)
            assert stores.metadata.engine.dialect.name == "postgresql"
            assert stores.metadata.engine.driver == "psycopg"
            tenant = stores.metadata.create_tenant("acme")
            assert stores.metadata.list_tenants() == [tenant]
        finally:
            stores.close()


def test_a_postgres_url_needs_a_database(tmp_path: Path) -> None:
    storage = _embedded(tmp_path).model_copy(update={"metadata": "postgresql://u:p@127.0.0.1"})
    with pytest.raises(ValueError, match="names no database"):
        open_stores(storage)
    with pytest.raises(ValueError, match="names no database"):
        migrate(storage)


def test_migrate_refuses_other_schemes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sqlite://"):
        migrate(StorageSettings(metadata="oracle://db", blobs="", search=""))
