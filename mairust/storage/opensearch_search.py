"""``OpenSearchIndex``: full-text search over mailbox entries in OpenSearch (production role).

URL: ``opensearch://host:port?index=mairust`` (plain HTTP; TLS and credentials come later).
Optional query keys: ``shards`` (1), ``replicas`` (the server's default), ``refresh_interval``
(``1s``), ``timeout`` in seconds per request (10).

The index is created with an explicit mapping on open when it is missing; its layout version
sits in the mapping's ``_meta``, and an index of another layout is refused (never dropped: in
production it may be large, so re-indexing into a new index name is the operator's call).

Search semantics are those of the embedded FTS5 index: every word and quoted phrase of the
query is required (:func:`mairust.model.search_query.search_terms`), each a phrase of its own
tokens found in one of subject, body, sender or recipients; user input never reaches a query
parser (``multi_match`` takes text, not syntax); diacritics of Latin letters are removed (ß,
æ, ø stay letters of their own) and case is folded; hits come best first (BM25), ties newest
first, then by entry id (a total order, paged with ``search_after``); filters alone list
newest first. The request body is built in
:mod:`mairust.storage.opensearch_query`.

Writes use ``refresh=wait_for``: ``index()``, ``update_labels()`` and ``delete()`` return
once their change is searchable, as the contract promises, without forcing a refresh (and
a small segment) per call. The price is up to ``refresh_interval`` of latency per call,
which the indexer's batches amortise. ``update_labels()`` is a partial update of the
stored source, so a tag or a move never sends the message body again.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from mairust.errors import InvalidInput, StorageUnavailable
from mairust.model.mailbox import SearchDocument, SearchHit, SearchPosition
from mairust.model.scope import Scope
from mairust.model.search_query import (
    AUTH_FILTER_KEYS,
    address_keys,
    search_filters,
    search_terms,
)
from mairust.storage.opensearch_query import MARK_CLOSE, MARK_OPEN, search_after, search_body

log = logging.getLogger(__name__)

# Bumped when the mapping or analysis changes: an index of another layout is refused.
LAYOUT_VERSION = 2
_SNIPPET_FIELDS = ("body", "subject", "from_addr.text", "to_addrs.text")  # first highlighted wins
# The index's cap on from + size; pages go by search_after (from is always 0), so only
# the page size (at most 500) meets it. Kept as an index setting of the layout.
MAX_RESULT_WINDOW = 20_000
_MAX_WORDS = 200  # each term is a clause per text field; the engine caps clauses at 1,024
# Snippets: the text is cut to a few words either side of the first mark, like FTS5's snippet().
_SNIPPET_WORDS = 6
_SNIPPET_MAX_CHARS = 160
_BULK_MAX_BYTES = 8 * 1024 * 1024
_BULK_MAX_ACTIONS = 1000
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,200}")


@dataclass(frozen=True, slots=True)
class OpenSearchTarget:
    """Where the index lives and how it is created, as read from the store URL."""

    host: str
    port: int
    index: str = "mairust"
    shards: int = 1
    replicas: int | None = None
    refresh_interval: str = "1s"
    timeout: float = 10.0


def parse_opensearch_url(url: str) -> OpenSearchTarget:
    """The target named by ``opensearch://host:port?index=...``; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "opensearch" or not parts.hostname:
        raise ValueError(f"search store URL must be opensearch://host:port?index=NAME, got {url!r}")
    if parts.username or parts.password or parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"unsupported parts in search store URL {url!r} (no auth or path yet)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"index", "shards", "replicas", "refresh_interval", "timeout"})
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} in search store URL {url!r}")
    try:
        target = OpenSearchTarget(
            host=parts.hostname,
            port=parts.port or 9200,
            index=query.get("index", "mairust"),
            shards=int(query.get("shards", "1")),
            replicas=int(query["replicas"]) if "replicas" in query else None,
            refresh_interval=query.get("refresh_interval", "1s"),
            timeout=float(query.get("timeout", "10")),
        )
    except ValueError as error:
        raise ValueError(f"bad option in search store URL {url!r}: {error}") from error
    if not _INDEX_NAME.fullmatch(target.index):
        raise ValueError(f"bad index name {target.index!r}: lowercase letters, digits, . _ -")
    if target.shards < 1 or (target.replicas is not None and target.replicas < 0):
        raise ValueError(f"bad shard or replica count in search store URL {url!r}")
    if target.timeout <= 0:
        raise ValueError(f"timeout must be positive in search store URL {url!r}")
    return target


def snippet_of(fragment: str) -> str:
    """A short plain-text snippet around the first marked word of a highlighted fragment.

    Whitespace runs become one space; ``…`` stands where words were cut; a text without
    spaces (CJK, a long token) is cut by characters around the mark instead.
    """
    words = fragment.split()  # the marks stay inside their words
    first = next((n for n, word in enumerate(words) if MARK_OPEN in word), 0)
    low, high = max(0, first - _SNIPPET_WORDS), first + _SNIPPET_WORDS + 1
    prefix = "…" if low > 0 else ""
    suffix = "…" if high < len(words) else ""
    marked = " ".join(words[low:high])
    at = len(_unmarked(marked[: max(marked.find(MARK_OPEN), 0)]))
    text = _unmarked(marked)
    if len(text) > _SNIPPET_MAX_CHARS:
        start = max(0, min(at - _SNIPPET_MAX_CHARS // 3, len(text) - _SNIPPET_MAX_CHARS))
        prefix = "…" if start > 0 or prefix else ""
        suffix = "…" if start + _SNIPPET_MAX_CHARS < len(text) or suffix else ""
        text = text[start : start + _SNIPPET_MAX_CHARS]
    return prefix + text + suffix


def _unmarked(text: str) -> str:
    return text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def _diacritic_mappings() -> list[str]:
    """Char-filter rules that strip diacritics from Latin letters, like FTS5's
    ``remove_diacritics 2``: a letter whose canonical decomposition is a base letter plus
    combining marks becomes the base letter; combining marks alone vanish. Letters without
    such a decomposition (ß, æ, ø, ł) stay, which ``asciifolding`` would fold."""
    rules = []
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        if marks and all(unicodedata.combining(m) for m in marks) and base.isalpha():
            rules.append(f"\\u{code:04x} => \\u{ord(base):04x}")
    rules.extend(f"\\u{code:04x} => " for code in range(0x0300, 0x0370))
    return rules


def index_body(target: OpenSearchTarget) -> dict[str, Any]:
    """Settings and explicit mapping of a new index."""
    text = {"type": "text", "analyzer": "mairust_text", "index_options": "offsets"}
    address = {"type": "keyword", "ignore_above": 1024, "fields": {"text": text}}
    # ignore_above: a term past Lucene's limit would refuse the whole document.
    label = {"type": "keyword", "ignore_above": 1024}
    settings: dict[str, Any] = {
        "number_of_shards": target.shards,
        "refresh_interval": target.refresh_interval,
        "max_result_window": MAX_RESULT_WINDOW,
        "analysis": {
            "char_filter": {
                "mairust_remove_diacritics": {"type": "mapping", "mappings": _diacritic_mappings()}
            },
            "analyzer": {
                "mairust_text": {
                    "type": "custom",
                    "char_filter": ["mairust_remove_diacritics"],
                    "tokenizer": "standard",
                    "filter": ["lowercase"],
                }
            },
        },
    }
    if target.replicas is not None:
        settings["number_of_replicas"] = target.replicas
    return {
        "settings": {"index": settings},
        "mappings": {
            "dynamic": "strict",
            "_meta": {"mairust_layout": LAYOUT_VERSION},
            "properties": {
                "entry_id": {"type": "keyword"},
                "tenant_id": {"type": "keyword"},
                "mailbox_id": {"type": "keyword"},
                "subject": text,
                "body": text,
                "from_addr": address,
                "to_addrs": address,
                "received_at": {"type": "date"},
                "auth": {"properties": {key: {"type": "keyword"} for key in AUTH_FILTER_KEYS}},
                "folder": label,
                "tags": label,
                "from_keys": label,  # mairust.model.search_query.address_keys()
                "to_keys": label,
            },
        },
    }


def _source_of(doc: SearchDocument) -> dict[str, Any]:
    received = doc.received_at
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return {
        "entry_id": doc.entry_id,
        "tenant_id": doc.tenant_id,
        "mailbox_id": doc.mailbox_id,
        "subject": doc.subject,
        "body": doc.body,
        "from_addr": doc.from_addr,
        "to_addrs": list(doc.to_addrs),
        "received_at": received.astimezone(UTC).isoformat(),
        "auth": {key: doc.auth[key] for key in AUTH_FILTER_KEYS if key in doc.auth},
        "folder": doc.folder,
        "tags": sorted(set(doc.tags)),
        "from_keys": list(address_keys(doc.from_addr)),
        "to_keys": sorted({key for addr in doc.to_addrs for key in address_keys(addr)}),
    }


@contextmanager
def _unavailable_on_failure(what: str) -> Iterator[None]:
    """Any transport failure (refused, timeout, 5xx, 429, blocked index) is StorageUnavailable."""
    try:
        yield
    except TransportError as error:
        log.warning("search index: %s failed: %s", what, error)
        raise StorageUnavailable(f"search index unavailable ({what}): {error}") from error


class IndexLayoutError(StorageUnavailable):
    """The index exists with another layout: a configuration problem, not an outage."""


class OpenSearchIndex:
    """Implements :class:`mairust.storage.protocols.SearchIndex`; thread-safe."""

    def __init__(self, url: str) -> None:
        self.target = parse_opensearch_url(url)
        self._client = OpenSearch(
            hosts=[{"host": self.target.host, "port": self.target.port}],
            timeout=self.target.timeout,
            max_retries=1,  # a refused connection is retried at once, a timeout is not
            retry_on_timeout=False,
        )
        # The node may be down when a process starts: delivery must not wait for search
        # (its failures go to the durable backlog), so the index is set up at first use.
        self._ready = False
        # An index of another layout is refused, never dropped: nothing to re-index here.
        self.needs_reindex = False
        try:
            self._ready_or_raise()
        except StorageUnavailable as error:
            if isinstance(error, IndexLayoutError):
                self._client.close()
                raise
            log.warning("search node %s not reachable yet: %s", self.target.host, error)

    @property
    def name(self) -> str:
        return self.target.index

    def _ready_or_raise(self) -> None:
        if not self._ready:
            self._ensure_index()
            self._ready = True

    def _ensure_index(self) -> None:
        with _unavailable_on_failure("create index"):
            try:
                self._client.indices.create(index=self.name, body=index_body(self.target))
                log.info("search index %s created", self.name)
            except RequestError as error:
                if error.error != "resource_already_exists_exception":
                    raise
            mapping = self._client.indices.get_mapping(index=self.name)
        meta = mapping.get(self.name, {}).get("mappings", {}).get("_meta", {})
        layout = meta.get("mairust_layout")
        if layout != LAYOUT_VERSION:
            raise IndexLayoutError(
                f"search index {self.name!r} has layout {layout!r}, not {LAYOUT_VERSION}: "
                "re-index into a new index name"
            )

    def index(self, documents: Sequence[SearchDocument]) -> None:
        self._ready_or_raise()
        actions = []
        for doc in documents:
            action = {"index": {"_index": self.name, "_id": doc.entry_id}}
            actions.append((action, _source_of(doc)))
        self._bulk("index", actions)

    def delete(self, entry_ids: Sequence[str]) -> None:
        self._ready_or_raise()
        actions = [
            ({"delete": {"_index": self.name, "_id": entry_id}}, None) for entry_id in entry_ids
        ]
        self._bulk("delete", actions)

    def update_labels(self, entry_id: str, tags: Sequence[str], folder: str) -> bool:
        self._ready_or_raise()
        labels = {"tags": sorted(set(tags)), "folder": folder}
        with _unavailable_on_failure("update labels"):
            try:
                # A partial update: the engine re-indexes the stored source with these
                # fields replaced, so the body is not sent (or parsed) again. Two label
                # changes racing on one entry retry on the version conflict.
                self._client.update(
                    index=self.name,
                    id=entry_id,
                    body={"doc": labels},
                    refresh="wait_for",
                    retry_on_conflict=3,
                )
            except NotFoundError as error:
                # Only a missing document is "not indexed"; an index gone is an outage.
                if error.error != "document_missing_exception":
                    raise
                return False  # no half-empty document is created (no upsert)
        return True

    def _bulk(
        self, what: str, actions: Sequence[tuple[dict[str, Any], dict[str, Any] | None]]
    ) -> None:
        """Send ``actions`` in requests of bounded size; each returns once searchable."""
        lines: list[str] = []
        size = 0
        for action, source in actions:
            entry = [json.dumps(action)]
            if source is not None:
                entry.append(json.dumps(source, ensure_ascii=False))
            entry_size = sum(len(line) for line in entry)
            if lines and (
                size + entry_size > _BULK_MAX_BYTES or len(lines) >= _BULK_MAX_ACTIONS * 2
            ):
                self._send_bulk(what, lines)
                lines, size = [], 0
            lines.extend(entry)
            size += entry_size
        if lines:
            self._send_bulk(what, lines)

    def _send_bulk(self, what: str, lines: list[str]) -> None:
        with _unavailable_on_failure(what):
            response = self._client.bulk(body="\n".join(lines) + "\n", refresh="wait_for")
        if not response.get("errors"):
            return
        failed = [
            result for item in response["items"] for result in item.values() if "error" in result
        ]
        if failed:  # a delete of an absent id is a 404 without "error": not a failure
            first = failed[0]
            log.warning("search index: %s: %d item(s) failed, first: %s", what, len(failed), first)
            raise StorageUnavailable(
                f"search index {what} failed for {len(failed)} document(s): "
                f"{first.get('_id')}: {first.get('error')}"
            )

    def search(
        self,
        scope: Scope,
        query: str,
        mailbox_id: str | None = None,
        limit: int = 50,
        after: SearchPosition | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> list[SearchHit]:
        self._ready_or_raise()
        typed = search_filters(filters)  # InvalidInput for unknown keys and bad values
        if not query.strip() and not filters:
            raise InvalidInput("empty search query")
        # A repeated term adds no condition, only clauses (the engine caps their number).
        terms = list({term.casefold(): term for term in search_terms(query)}.values())
        if len(terms) > _MAX_WORDS:
            raise InvalidInput(f"search query has more than {_MAX_WORDS} words")
        start = search_after(after, scored=bool(terms)) if after is not None else None
        if (query.strip() and not terms) or limit <= 0:
            return []
        body = search_body(scope, terms, mailbox_id, typed)
        # search_after, not from/size: a page deep in the hits costs what the first does,
        # and has no window to end at.
        body.update({"size": limit, "track_total_hits": False, "_source": False})
        if start is not None:
            body["search_after"] = start
        with _unavailable_on_failure("search"):
            response = self._client.search(index=self.name, body=body)
        return [self._hit_of(hit, scored=bool(terms)) for hit in response["hits"]["hits"]]

    @staticmethod
    def _hit_of(hit: Mapping[str, Any], scored: bool) -> SearchHit:
        highlight = hit.get("highlight", {})
        snippet = next(
            (snippet_of(highlight[field][0]) for field in _SNIPPET_FIELDS if highlight.get(field)),
            "",
        )
        score = float(hit.get("_score") or 0.0) if scored else 0.0
        return SearchHit(hit["_id"], score, snippet, position=tuple(hit["sort"]))

    def close(self) -> None:
        self._client.close()
