"""The vault runs over the same metadata backends as the storage contract tests."""

from tests.mairust.storage.conftest import metadata_store, metadata_url, postgres_databases

__all__ = ["metadata_store", "metadata_url", "postgres_databases"]
