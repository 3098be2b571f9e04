"""Throwaway OpenSearch indexes for tests, on the node `.ci/services/opensearch.sh` starts.

The node's address comes from ``MAIRUST_TEST_OPENSEARCH_URL`` (``make test`` and
``.ci/with-services.sh`` set it). A test that needs OpenSearch and finds no node FAILS,
saying how to start one: a skipped backend would pass for a tested one.

Each index gets a unique name and no replicas (one node: replicas would never be
assigned), and is deleted when closed, so the shared node stays small. Its refresh
interval is short, so the ``refresh=wait_for`` writes return quickly.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from opensearchpy import OpenSearch

from mairust.storage.opensearch_search import OpenSearchIndex, parse_opensearch_url
from tests.support.services import required_env

URL_VARIABLE = "MAIRUST_TEST_OPENSEARCH_URL"


def opensearch_test_url() -> str:
    """The test server's URL; fails the calling test when the services are not running."""
    return required_env(URL_VARIABLE, "the OpenSearch tests")


def fresh_index_url(**options: str) -> str:
    """A URL naming a new, unique index on the test node; ``options`` add URL keys."""
    query = {
        "index": f"mairust-test-{secrets.token_hex(6)}",
        "replicas": "0",
        "refresh_interval": "100ms",
        **options,
    }
    return opensearch_test_url() + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def admin_client() -> OpenSearch:
    """A plain client of the test node, for looking behind the index's back."""
    target = parse_opensearch_url(opensearch_test_url())
    return OpenSearch(hosts=[{"host": target.host, "port": target.port}], timeout=30)


class DisposableOpenSearchIndex(OpenSearchIndex):
    """An OpenSearchIndex whose index is deleted when it is closed."""

    def close(self) -> None:
        client = admin_client()
        try:
            client.indices.delete(index=self.name, ignore_unavailable=True)
        finally:
            client.close()
            super().close()


def fresh_opensearch_index(tmp: Path) -> OpenSearchIndex:
    """A new, empty index for one test (``tmp`` is unused: the data lives on the node)."""
    return DisposableOpenSearchIndex(fresh_index_url())
