"""Contract tests of the SearchIndex role (every backend in conftest.SEARCH_BACKENDS),
then the FTS5 query builder and concurrency on one index file."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mairust.errors import InvalidInput
from mairust.model.mailbox import SearchDocument
from mairust.model.scope import Scope
from mairust.storage.fts5_search import Fts5SearchIndex, fts5_query
from mairust.storage.protocols import SearchIndex

ACME, BETA = Scope.tenant("T-ACME"), Scope.tenant("T-BETA")
START = datetime(2024, 1, 1, tzinfo=UTC)


def _doc(entry_id: str, body: str, **changes: object) -> SearchDocument:
    fields: dict[str, object] = {
        "entry_id": entry_id,
        "tenant_id": "T-ACME",
        "mailbox_id": "MB-1",
        "subject": "",
        "from_addr": "sender@remote.test",
        "to_addrs": ("user@acme.test",),
        "body": body,
        "received_at": START,
    }
    fields.update(changes)
    return SearchDocument(**fields)  # type: ignore[arg-type]


def _ids(index: SearchIndex, scope: Scope, query: str, **kw: object) -> list[str]:
    return [hit.entry_id for hit in index.search(scope, query, **kw)]  # type: ignore[arg-type]


def test_every_word_is_required(search_index: SearchIndex) -> None:
    search_index.index(
        [
            _doc("e1", "the quarterly report is attached"),
            _doc("e2", "the quarterly numbers"),
            _doc("e3", "nothing relevant"),
        ]
    )
    assert _ids(search_index, ACME, "quarterly report") == ["e1"]
    assert sorted(_ids(search_index, ACME, "Quarterly")) == ["e1", "e2"]
    assert _ids(search_index, ACME, "absent") == []


def test_fields_subject_from_and_to_are_searched(search_index: SearchIndex) -> None:
    search_index.index(
        [
            _doc("s", "", subject="Invoice 4711"),
            _doc("f", "", from_addr="billing@vendor.test"),
            _doc("t", "", to_addrs=("a@acme.test", "finance@acme.test")),
        ]
    )
    assert _ids(search_index, ACME, "invoice") == ["s"]
    assert _ids(search_index, ACME, "billing@vendor.test") == ["f"]
    assert _ids(search_index, ACME, "finance") == ["t"]


def test_unicode_and_diacritics(search_index: SearchIndex) -> None:
    search_index.index(
        [
            _doc("de", "", subject="Grüße aus Köln"),
            _doc("ja", "会議 の 資料"),
            _doc("emoji", "coffee ☕ time"),
        ]
    )
    assert _ids(search_index, ACME, "köln") == ["de"]
    assert _ids(search_index, ACME, "KOLN") == ["de"]  # remove_diacritics
    assert _ids(search_index, ACME, "grusse") == []  # ß is a letter of its own
    assert _ids(search_index, ACME, "会議") == ["ja"]
    assert _ids(search_index, ACME, "coffee ☕") == ["emoji"]


def test_index_replaces_by_entry_id(search_index: SearchIndex) -> None:
    search_index.index([_doc("e1", "old words")])
    search_index.index([_doc("e1", "new words")])
    search_index.index([_doc("e1", "new words")])  # idempotent
    assert _ids(search_index, ACME, "old") == []
    assert _ids(search_index, ACME, "words") == ["e1"]


def test_delete(search_index: SearchIndex) -> None:
    search_index.index([_doc("e1", "alpha"), _doc("e2", "alpha")])
    search_index.delete(["e1", "never-indexed"])
    search_index.delete([])
    assert _ids(search_index, ACME, "alpha") == ["e2"]


def test_scoped_by_tenant_and_mailbox(search_index: SearchIndex) -> None:
    search_index.index(
        [
            _doc("a1", "secret plans", mailbox_id="MB-1"),
            _doc("a2", "secret plans", mailbox_id="MB-2"),
            _doc("b1", "secret plans", tenant_id="T-BETA", mailbox_id="MB-9"),
        ]
    )
    assert sorted(_ids(search_index, ACME, "secret")) == ["a1", "a2"]
    assert _ids(search_index, BETA, "secret") == ["b1"]
    assert _ids(search_index, Scope.tenant("T-OTHER"), "secret") == []
    assert _ids(search_index, ACME, "secret", mailbox_id="MB-2") == ["a2"]
    assert _ids(search_index, BETA, "secret", mailbox_id="MB-1") == []
    assert sorted(_ids(search_index, Scope.admin(), "secret")) == ["a1", "a2", "b1"]


def test_best_match_first_with_snippet(search_index: SearchIndex) -> None:
    search_index.index(
        [
            _doc("weak", "budget " + "filler words here " * 30),
            _doc("strong", "budget budget budget", subject="budget"),
        ]
    )
    hits = search_index.search(ACME, "budget")
    assert [hit.entry_id for hit in hits] == ["strong", "weak"]
    assert hits[0].score > hits[1].score
    assert "budget" in hits[1].snippet
    assert len(hits[1].snippet) < 200


def test_pagination(search_index: SearchIndex) -> None:
    search_index.index(
        [_doc(f"e{n:02d}", "page", received_at=START + timedelta(minutes=n)) for n in range(25)]
    )
    pages = [_ids(search_index, ACME, "page", limit=10, offset=o) for o in (0, 10, 20, 30)]
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    flat = [entry for page in pages for entry in page]
    assert sorted(flat) == [f"e{n:02d}" for n in range(25)]
    # equal scores: newest first, so pages are stable
    assert flat == [f"e{n:02d}" for n in reversed(range(25))]
    assert _ids(search_index, ACME, "page", limit=0) == []


def test_filters_select_by_authentication_result(search_index: SearchIndex) -> None:
    minute = timedelta(minutes=1)
    search_index.index(
        [
            _doc("pass", "invoice", auth={"spf": "pass", "dkim": "pass", "dmarc": "pass"}),
            _doc(
                "fail", "invoice", auth={"spf": "fail", "dmarc": "fail"}, received_at=START + minute
            ),
            _doc("unchecked", "invoice", received_at=START + 2 * minute),
            _doc("old", "other words", auth={"dmarc": "fail"}, received_at=START - minute),
            _doc("other-box", "invoice", mailbox_id="MB-2", auth={"dmarc": "fail"}),
            _doc("beta", "invoice", tenant_id="T-BETA", auth={"dmarc": "fail"}),
        ]
    )
    assert _ids(search_index, ACME, "invoice", filters={"dmarc": "fail"}) == ["fail", "other-box"]
    assert _ids(search_index, ACME, "invoice", filters={"dmarc": "pass", "dkim": "pass"}) == [
        "pass"
    ]
    assert _ids(search_index, ACME, "invoice", filters={"dmarc": "pass", "spf": "fail"}) == []
    assert _ids(search_index, ACME, "invoice", filters={"arc": "pass"}) == []
    # filters alone: newest first, scoped like words, and paged
    assert _ids(search_index, ACME, "", filters={"dmarc": "fail"}, mailbox_id="MB-1") == [
        "fail",
        "old",
    ]
    assert _ids(search_index, ACME, " ", filters={"dmarc": "fail"}, limit=1, offset=2) == ["old"]
    assert sorted(_ids(search_index, Scope.admin(), "", filters={"dmarc": "fail"})) == [
        "beta",
        "fail",
        "old",
        "other-box",
    ]


@pytest.mark.parametrize("filters", [{"from": "x"}, {"DMARC": "fail"}, {"dmarc": "fail", "x": ""}])
def test_unknown_filter_is_invalid(search_index: SearchIndex, filters: dict[str, str]) -> None:
    search_index.index([_doc("e1", "invoice", auth={"dmarc": "fail"})])
    with pytest.raises(InvalidInput):
        search_index.search(ACME, "invoice", filters=filters)


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_is_invalid(search_index: SearchIndex, query: str) -> None:
    with pytest.raises(InvalidInput):
        search_index.search(ACME, query)


INJECTIONS = [
    '"',
    '"unbalanced',
    'say "hello" world"',
    "NEAR(alpha beta, 2)",
    "NEAR",
    "alpha*",
    "*",
    "al*pha",
    "alpha AND beta",
    "alpha OR gamma",
    "NOT alpha",
    "alpha NOT beta",
    "(alpha",
    "alpha)",
    "((alpha OR beta) AND NOT gamma)",
    "subject:alpha",
    "{subject body}: alpha",
    "- alpha",
    "-subject:alpha",
    "^alpha",
    "alpha + beta",
    "body : alpha",
    "'; DROP TABLE documents; --",
    "alpha\x00beta",
    "alpha\u200bbeta",
    "\\",
    "rank:1",
    "()",
    "%_%",
]


@pytest.mark.parametrize("query", INJECTIONS)
def test_engine_syntax_is_searched_as_words(search_index: SearchIndex, query: str) -> None:
    search_index.index(
        [
            _doc("e1", "alpha beta", subject="alpha"),
            _doc("e2", "subject and near and not"),
            _doc("b1", "alpha beta", tenant_id="T-BETA"),
        ]
    )
    hits = search_index.search(ACME, query)
    assert all(hit.entry_id in {"e1", "e2"} for hit in hits)
    # still intact afterwards
    assert _ids(search_index, ACME, "beta") == ["e1"]


def test_operators_have_no_power(search_index: SearchIndex) -> None:
    search_index.index([_doc("e1", "alpha beta"), _doc("e2", "gamma")])
    assert _ids(search_index, ACME, "alpha OR gamma") == []  # "or" is a required word
    assert _ids(search_index, ACME, "NOT gamma") == []
    assert _ids(search_index, ACME, "alpha*") == ["e1"]  # "*" is no prefix operator here
    assert _ids(search_index, ACME, "alph*") == []
    assert _ids(search_index, ACME, "subject:alpha") == []  # the phrase "subject alpha"


# -- FTS5 specifics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello world", '"hello" "world"'),
        ('say "hi"', '"say" """hi"""'),
        ("NEAR(a b)", '"NEAR(a" "b)"'),
        ("* ( ) :", None),
        ("a\x00b", '"a" "b"'),
    ],
)
def test_fts5_query(text: str, expected: str | None) -> None:
    assert fts5_query(text) == expected


def test_two_indexes_on_one_file(tmp_path: Path) -> None:
    first = Fts5SearchIndex(tmp_path / "search.db")
    second = Fts5SearchIndex(tmp_path / "search.db")
    errors: list[BaseException] = []

    def writer(index: Fts5SearchIndex, prefix: str) -> None:
        try:
            for n in range(50):
                index.index([_doc(f"{prefix}{n}", f"shared word{n}")])
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [
        threading.Thread(target=writer, args=(index, prefix))
        for index, prefix in ((first, "x"), (second, "y"), (first, "z"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(second.search(ACME, "shared", limit=1000)) == 150
    finally:
        first.close()
        second.close()


def test_reopened_index_keeps_documents(tmp_path: Path) -> None:
    index = Fts5SearchIndex(tmp_path / "search.db")
    index.index([_doc("e1", "persisted")])
    index.close()
    reopened = Fts5SearchIndex(tmp_path / "search.db")
    try:
        assert _ids(reopened, ACME, "persisted") == ["e1"]
    finally:
        reopened.close()
