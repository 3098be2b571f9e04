"""OpenSearch specifics of the search role: the URL, the mapping the index is created with,
highlighting, engine syntax, layout checks and failures. The SearchIndex contract itself
runs over OpenSearch in test_fts5_search.py (conftest.SEARCH_BACKENDS)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mairust.config import StorageSettings
from mairust.errors import InvalidInput, StorageUnavailable
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.factory import migrate, open_stores
from mairust.storage.opensearch_search import (
    LAYOUT_VERSION,
    OpenSearchIndex,
    OpenSearchTarget,
    parse_opensearch_url,
    snippet_of,
)
from tests.support.opensearch_indexes import (
    DisposableOpenSearchIndex,
    admin_client,
    fresh_index_url,
)
from tests.support.search_documents import START, search_doc

ACME = TenantScope("T-ACME")


@pytest.fixture
def index() -> Iterator[OpenSearchIndex]:
    opened = DisposableOpenSearchIndex(fresh_index_url())
    yield opened
    opened.close()


def _ids(index: OpenSearchIndex, query: str) -> list[str]:
    return [hit.entry_id for hit in index.search(ACME, query)]


# -- URL ---------------------------------------------------------------------------


def test_url_options() -> None:
    assert parse_opensearch_url("opensearch://127.0.0.1:9201") == OpenSearchTarget(
        host="127.0.0.1", port=9201
    )
    assert parse_opensearch_url(
        "opensearch://search.internal?index=mail-v2&shards=3&replicas=1"
        "&refresh_interval=5s&timeout=2.5"
    ) == OpenSearchTarget(
        host="search.internal",
        port=9200,
        index="mail-v2",
        shards=3,
        replicas=1,
        refresh_interval="5s",
        timeout=2.5,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9200",
        "opensearch://",
        "opensearch://127.0.0.1:9200/mairust",
        "opensearch://user:secret@127.0.0.1:9200",
        "opensearch://127.0.0.1:9200?index=Upper",
        "opensearch://127.0.0.1:9200?index=_hidden",
        "opensearch://127.0.0.1:9200?index=a,b",
        "opensearch://127.0.0.1:9200?index=a*",
        "opensearch://127.0.0.1:9200?shards=0",
        "opensearch://127.0.0.1:9200?shards=two",
        "opensearch://127.0.0.1:9200?replicas=-1",
        "opensearch://127.0.0.1:9200?timeout=0",
        "opensearch://127.0.0.1:9200?colour=blue",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_opensearch_url(url)


def test_factory_opens_the_opensearch_scheme(tmp_path: Path) -> None:
    url = fresh_index_url()
    storage = StorageSettings(
        metadata=f"sqlite:///{tmp_path / 'metadata.db'}",
        blobs=f"file://{tmp_path / 'blobs'}",
        search=url,
    )
    migrate(storage)
    stores = open_stores(storage)
    try:
        assert isinstance(stores.search, OpenSearchIndex)
        stores.search.index([search_doc("e1", "through the factory")])
        assert [hit.entry_id for hit in stores.search.search(ACME, "factory")] == ["e1"]
    finally:
        stores.close()
        client = admin_client()
        client.indices.delete(index=parse_opensearch_url(url).index)
        client.close()


# -- the index on the node ---------------------------------------------------------


def test_mapping_created_on_open(index: OpenSearchIndex) -> None:
    client = admin_client()
    try:
        mapping = client.indices.get_mapping(index=index.name)[index.name]["mappings"]
        settings = client.indices.get_settings(index=index.name)[index.name]["settings"]
    finally:
        client.close()
    fields = mapping["properties"]
    assert mapping["dynamic"] == "strict"
    assert mapping["_meta"] == {"mairust_layout": LAYOUT_VERSION}
    for name in ("entry_id", "tenant_id", "mailbox_id"):
        assert fields[name]["type"] == "keyword"
    for name in ("folder", "tags", "from_keys", "to_keys"):
        assert fields[name] == {"type": "keyword", "ignore_above": 1024}
    for name in ("subject", "body"):
        assert fields[name] == {
            "type": "text",
            "analyzer": "mairust_text",
            "index_options": "offsets",
        }
    for name in ("from_addr", "to_addrs"):
        assert fields[name]["type"] == "keyword"
        assert fields[name]["fields"]["text"]["type"] == "text"
    assert fields["received_at"]["type"] == "date"
    assert {key: value["type"] for key, value in fields["auth"]["properties"].items()} == {
        "spf": "keyword",
        "dkim": "keyword",
        "dmarc": "keyword",
        "arc": "keyword",
    }
    assert settings["index"]["number_of_shards"] == "1"
    assert settings["index"]["number_of_replicas"] == "0"


def test_reopening_keeps_documents_and_mapping(index: OpenSearchIndex) -> None:
    index.index([search_doc("e1", "persisted")])
    again = OpenSearchIndex(fresh_index_url(index=index.name))
    try:
        assert [hit.entry_id for hit in again.search(ACME, "persisted")] == ["e1"]
    finally:
        again.close()


def test_index_of_another_layout_is_refused() -> None:
    url = fresh_index_url()
    name = parse_opensearch_url(url).index
    client = admin_client()
    client.indices.create(index=name, body={"mappings": {"_meta": {"mairust_layout": 0}}})
    try:
        with pytest.raises(StorageUnavailable, match="layout"):
            OpenSearchIndex(url)
    finally:
        client.indices.delete(index=name)
        client.close()


def test_default_refresh_interval_still_reads_after_write() -> None:
    # refresh=wait_for: index() returns once the document is searchable, even at 1 s.
    opened = DisposableOpenSearchIndex(fresh_index_url(refresh_interval="1s"))
    try:
        opened.index([search_doc("e1", "visible at once")])
        assert _ids(opened, "visible") == ["e1"]
        opened.delete(["e1"])
        assert _ids(opened, "visible") == []
    finally:
        opened.close()


def test_highlighted_snippet_contains_the_word(index: OpenSearchIndex) -> None:
    index.index(
        [
            search_doc(
                "sentence",
                "Hello team. " + "Lorem ipsum dolor. " * 20 + "The quarterly budget is attached, "
                "see page two. " + "Dolor sit amet. " * 20,
            ),
            search_doc("long", "lorem ipsum " * 40 + "the budget " + "dolor " * 40),
            search_doc("subject", "nothing here", subject="Budget for Köln"),
            search_doc("sender", "", from_addr="budget@vendor.test"),
        ]
    )
    snippets = {hit.entry_id: hit.snippet for hit in index.search(ACME, "budget")}
    # the passage starts at the sentence, not in the middle of the lorem ipsum before it
    assert snippets["sentence"].startswith("The quarterly budget is attached, see page two.")
    assert len(snippets["sentence"]) < 100
    assert snippets["long"].startswith("…")  # cut before the word
    assert "the budget" in snippets["long"]
    assert len(snippets["long"]) < 100
    assert snippets["subject"] == "Budget for Köln"  # plain text: no markup around the word
    assert snippets["sender"] == "budget@vendor.test"
    # a folded word highlights the original spelling
    assert [(hit.entry_id, hit.snippet) for hit in index.search(ACME, "KOLN")] == [
        ("subject", "Budget for Köln")
    ]


def test_snippet_of_a_fragment() -> None:
    mark, end = "\ue000", "\ue001"
    words = " ".join(f"w{n}" for n in range(20))
    assert snippet_of(f"{words} {mark}hit{end} {words}") == (
        "…w14 w15 w16 w17 w18 w19 hit w0 w1 w2 w3 w4 w5…"
    )
    assert snippet_of(f"{mark}hit{end}\n\tend") == "hit end"
    assert snippet_of(f"a {mark}b{end} c {mark}d{end}") == "a b c d"
    long_word = "x" * 300 + f"{mark}y{end}" + "z" * 300
    cut = snippet_of(long_word)
    assert cut.startswith("…x") and cut.endswith("z…") and "xy" in cut
    assert len(cut) <= 162


def test_quotes_and_operators_are_words(index: OpenSearchIndex) -> None:
    index.index(
        [
            search_doc("apart", "beta gamma alpha"),
            search_doc("alpha", "alpha only"),
            search_doc("alpha2", "alpha 2"),
            search_doc("both", "alpha beta"),
        ]
    )
    assert _ids(index, '"alpha beta"') == ["both"]  # our phrase, not the engine's
    assert sorted(_ids(index, "alpha -beta")) == ["apart", "both"]  # "-beta" needs beta
    assert sorted(_ids(index, "alpha +beta")) == ["apart", "both"]
    assert sorted(_ids(index, "alpha | beta")) == ["apart", "both"]  # "|" is no word
    assert _ids(index, "alpha~2") == ["alpha2"]  # the words "alpha 2", no fuzziness
    assert _ids(index, "alph*") == []  # no prefix search
    assert _ids(index, "body:alpha") == []  # one token "body:alpha", no field syntax
    assert _ids(index, "(alpha) AND (beta)") == []  # "and" is a required word
    assert _ids(index, "*") == []
    assert _ids(index, '{"match_all": {}}') == []  # JSON is text too


def test_long_queries(index: OpenSearchIndex) -> None:
    index.index([search_doc("e1", "budget w0 w1")])
    assert _ids(index, "Budget budget " * 500) == ["e1"]  # repeats are one condition
    assert _ids(index, " ".join(f"w{n}" for n in range(200))) == []
    with pytest.raises(InvalidInput, match="200 words"):
        index.search(ACME, " ".join(f"w{n}" for n in range(201)))


def test_pages_go_by_search_after_past_the_result_window(index: OpenSearchIndex) -> None:
    index.index([search_doc(f"e{n}", "budget") for n in range(3)])
    first = index.search(ACME, "budget", limit=1)
    # the engine's own sort values: score, received_at in epoch ms, entry id
    assert first[0].position == (first[0].score, int(START.timestamp() * 1000), "e0")
    assert [hit.entry_id for hit in index.search(ACME, "budget", after=first[0].position)] == [
        "e1",
        "e2",
    ]
    # no from/size window: a position deep in the order is as good as the first
    assert index.search(ACME, "budget", after=(0.0, 0, "zzz"), limit=500) == []
    # the shapes of the other order are refused before the engine sees them
    with pytest.raises(InvalidInput):
        index.search(ACME, "", filters={"folder": "INBOX"}, after=first[0].position)
    with pytest.raises(InvalidInput):
        index.search(ACME, "budget", after=(int(START.timestamp() * 1000), "e0"))


# -- failures ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_node_is_unavailable_quickly() -> None:
    began = time.monotonic()
    # Opening does not fail (a process must start while search is down) ...
    index = OpenSearchIndex(f"opensearch://127.0.0.1:{_closed_port()}?index=x")
    # ... the first use does, quickly.
    with pytest.raises(StorageUnavailable):
        index.search(PLATFORM, "anything")
    with pytest.raises(StorageUnavailable):
        index.index([])
    assert time.monotonic() - began < 3


def test_silent_node_times_out_as_unavailable() -> None:
    # A frozen node (SIGSTOP, a full GC) accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        began = time.monotonic()
        index = OpenSearchIndex(f"opensearch://127.0.0.1:{port}?index=x&timeout=0.5")
        with pytest.raises(StorageUnavailable):
            index.search(PLATFORM, "anything")
        assert time.monotonic() - began < 3


class _FailingNode(BaseHTTPRequestHandler):
    """Lets index ``x`` open (create + mapping), then answers every request as the class's
    ``status`` and ``body`` say: a node that fell ill after the index was opened."""

    status = 503
    body: dict[str, object] = {"error": {"type": "cluster_block_exception"}, "status": 503}

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.status, self.body
        if self.command == "PUT" and self.path == "/x":
            status, body = 200, {"acknowledged": True}
        elif self.command == "GET" and self.path == "/x/_mapping":
            status, body = 200, {"x": {"mappings": {"_meta": {"mairust_layout": LAYOUT_VERSION}}}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output clean; the answers are what is tested


@contextmanager
def _failing_node(status: int, body: dict[str, object]) -> Iterator[str]:
    handler = type("Handler", (_FailingNode,), {"status": status, "body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"opensearch://127.0.0.1:{server.server_address[1]}?index=x"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"error": {"type": "cluster_block_exception"}, "status": 503}),
        (500, {"error": {"type": "exception"}, "status": 500}),
        (429, {"error": {"type": "rejected_execution_exception"}, "status": 429}),
    ],
)
def test_server_errors_are_unavailable(status: int, body: dict[str, object]) -> None:
    with _failing_node(status, body) as url:
        opened = OpenSearchIndex(url)
        try:
            with pytest.raises(StorageUnavailable):
                opened.index([search_doc("e1", "lost")])
            with pytest.raises(StorageUnavailable):
                opened.search(ACME, "lost")
            with pytest.raises(StorageUnavailable):
                opened.delete(["e1"])
        finally:
            opened.close()


def test_failed_bulk_items_are_unavailable() -> None:
    # The request succeeds, one document does not (a full write queue, a read-only index).
    rejected = {"_id": "e2", "status": 429, "error": {"type": "rejected_execution_exception"}}
    body = {
        "errors": True,
        "items": [{"index": {"_id": "e1", "status": 201}}, {"index": rejected}],
    }
    with _failing_node(200, body) as url:
        opened = OpenSearchIndex(url)
        try:
            with pytest.raises(StorageUnavailable, match="e2"):
                opened.index([search_doc("e1", "kept"), search_doc("e2", "lost")])
        finally:
            opened.close()


def test_deleting_absent_entries_is_no_failure() -> None:
    absent = {"_id": "e9", "status": 404, "result": "not_found"}
    with _failing_node(200, {"errors": False, "items": [{"delete": absent}]}) as url:
        opened = OpenSearchIndex(url)
        try:
            opened.delete(["e9"])
        finally:
            opened.close()


def test_a_failing_node_at_open_is_unavailable_at_first_use() -> None:
    with _failing_node(503, {"status": 503}) as url:
        index = OpenSearchIndex(url.replace("index=x", "index=y"))  # y cannot be created
        with pytest.raises(StorageUnavailable):
            index.search(PLATFORM, "anything")
