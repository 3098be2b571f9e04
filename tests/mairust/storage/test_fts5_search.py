"""Contract tests of the SearchIndex role (every backend in conftest.SEARCH_BACKENDS):
words, phrases, every filter, combinations, paging by position (many equal scores walked
page by page: each hit once, in order), re-indexing, label updates in place
and deletion; then the FTS5 query builder and concurrency on one index file."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mairust.errors import InvalidInput
from mairust.model.mailbox import SearchPosition
from mairust.model.scope import PLATFORM, Scope, TenantScope
from mairust.storage.fts5_search import Fts5SearchIndex, fts5_query
from mairust.storage.protocols import SearchIndex
from tests.support.search_documents import START, search_doc

ACME, BETA = TenantScope("T-ACME"), TenantScope("T-BETA")


def _ids(index: SearchIndex, scope: Scope, query: str, **kw: object) -> list[str]:
    return [hit.entry_id for hit in index.search(scope, query, **kw)]  # type: ignore[arg-type]


def test_every_word_is_required(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("e1", "the quarterly report is attached"),
            search_doc("e2", "the quarterly numbers"),
            search_doc("e3", "nothing relevant"),
        ]
    )
    assert _ids(search_index, ACME, "quarterly report") == ["e1"]
    assert sorted(_ids(search_index, ACME, "Quarterly")) == ["e1", "e2"]
    assert _ids(search_index, ACME, "absent") == []


def test_fields_subject_from_and_to_are_searched(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("s", "", subject="Invoice 4711"),
            search_doc("f", "", from_addr="billing@vendor.test"),
            search_doc("t", "", to_addrs=("a@acme.test", "finance@acme.test")),
        ]
    )
    assert _ids(search_index, ACME, "invoice") == ["s"]
    assert _ids(search_index, ACME, "billing@vendor.test") == ["f"]
    assert _ids(search_index, ACME, "finance") == ["t"]


def test_unicode_and_diacritics(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("de", "", subject="Grüße aus Köln"),
            search_doc("ja", "会議 の 資料"),
            search_doc("emoji", "coffee ☕ time"),
        ]
    )
    assert _ids(search_index, ACME, "köln") == ["de"]
    assert _ids(search_index, ACME, "KOLN") == ["de"]  # remove_diacritics
    assert _ids(search_index, ACME, "grusse") == []  # ß is a letter of its own
    assert _ids(search_index, ACME, "会議") == ["ja"]
    assert _ids(search_index, ACME, "coffee ☕") == ["emoji"]


def test_index_replaces_by_entry_id(search_index: SearchIndex) -> None:
    search_index.index([search_doc("e1", "old words")])
    search_index.index([search_doc("e1", "new words")])
    search_index.index([search_doc("e1", "new words")])  # idempotent
    assert _ids(search_index, ACME, "old") == []
    assert _ids(search_index, ACME, "words") == ["e1"]


def test_delete(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("e1", "alpha", tags=("x",)),
            search_doc("e2", "alpha", tags=("x",)),
            search_doc("e3", "beta"),
        ]
    )
    search_index.delete(["e1", "never-indexed"])
    search_index.delete([])
    assert _ids(search_index, ACME, "alpha") == ["e2"]
    assert _ids(search_index, ACME, "", filters={"tag": "x"}) == ["e2"]  # filters alone too
    search_index.delete(["e1", "e2"])  # again, and one still there: no error
    assert _ids(search_index, ACME, "alpha") == []
    assert _ids(search_index, ACME, "", filters={"tag": "x"}) == []
    assert _ids(search_index, ACME, "beta") == ["e3"]
    search_index.index([search_doc("e1", "alpha again")])  # a deleted entry can come back
    assert _ids(search_index, ACME, "alpha") == ["e1"]


def test_scoped_by_tenant_and_mailbox(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("a1", "secret plans", mailbox_id="MB-1"),
            search_doc("a2", "secret plans", mailbox_id="MB-2"),
            search_doc("b1", "secret plans", tenant_id="T-BETA", mailbox_id="MB-9"),
        ]
    )
    assert sorted(_ids(search_index, ACME, "secret")) == ["a1", "a2"]
    assert _ids(search_index, BETA, "secret") == ["b1"]
    assert _ids(search_index, TenantScope("T-OTHER"), "secret") == []
    assert _ids(search_index, ACME, "secret", mailbox_id="MB-2") == ["a2"]
    assert _ids(search_index, BETA, "secret", mailbox_id="MB-1") == []
    assert sorted(_ids(search_index, PLATFORM, "secret")) == ["a1", "a2", "b1"]


def test_best_match_first_with_snippet(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("weak", "budget " + "filler words here " * 30),
            search_doc("strong", "budget budget budget", subject="budget"),
        ]
    )
    hits = search_index.search(ACME, "budget")
    assert [hit.entry_id for hit in hits] == ["strong", "weak"]
    assert hits[0].score > hits[1].score
    assert "budget" in hits[1].snippet
    assert len(hits[1].snippet) < 200


def _walk(index: SearchIndex, scope: Scope, query: str, limit: int, **kw: object) -> list[str]:
    """Every page of one search, each started behind the last hit of the one before."""
    walked: list[str] = []
    after: SearchPosition | None = None
    for _ in range(1000):
        hits = index.search(scope, query, limit=limit, after=after, **kw)  # type: ignore[arg-type]
        assert len(hits) <= limit
        walked.extend(hit.entry_id for hit in hits)
        if len(hits) < limit:
            return walked
        after = hits[-1].position
    raise AssertionError("the pages never end")


def test_pages_of_equal_scores_show_every_hit_once_in_order(search_index: SearchIndex) -> None:
    minute = timedelta(minutes=1)
    docs = (
        # equal scores and equal times: only the entry id orders them
        [search_doc(f"tie{n:02d}", "ledger page") for n in range(40)]
        # equal scores, newer: before the ties, newest first
        + [
            search_doc(f"new{n:02d}", "ledger page", received_at=START + n * minute)
            for n in range(1, 9)
        ]
        # better matches (the word four times): first of all, ties by id
        + [search_doc(f"top{n:02d}", "ledger ledger ledger ledger page") for n in range(6)]
        # another tenant's and other words: never on a page
        + [search_doc(f"beta{n:02d}", "ledger page", tenant_id="T-BETA") for n in range(5)]
        + [search_doc(f"other{n:02d}", "nothing here") for n in range(5)]
    )
    search_index.index(sorted(docs, key=lambda doc: doc.entry_id[::-1]))  # not in order
    expected = (
        [f"top{n:02d}" for n in range(6)]
        + [f"new{n:02d}" for n in reversed(range(1, 9))]
        + [f"tie{n:02d}" for n in range(40)]
    )
    everything = search_index.search(ACME, "ledger", limit=500)
    assert [hit.entry_id for hit in everything] == expected
    scores = [hit.score for hit in everything]
    assert len(set(scores[:6])) == 1 and len(set(scores[6:])) == 1 and scores[0] > scores[6]
    for limit in (1, 5, 7, 54, 55):
        walked = _walk(search_index, ACME, "ledger", limit)
        assert walked == expected, limit  # each hit once, in order: no repeat, no gap
    # filters alone: newest first, ties by id, paged the same way
    filtered = [f"new{n:02d}" for n in reversed(range(1, 9))] + sorted(
        [f"tie{n:02d}" for n in range(40)]
        + [f"top{n:02d}" for n in range(6)]
        + [f"other{n:02d}" for n in range(5)]
    )
    assert _walk(search_index, ACME, "", 6, filters={"folder": "INBOX"}) == filtered
    assert _walk(search_index, ACME, "ledger", 4, mailbox_id="MB-2") == []
    assert _walk(search_index, BETA, "ledger", 2) == [f"beta{n:02d}" for n in range(5)]
    assert search_index.search(ACME, "ledger", limit=0) == []


def test_a_page_starts_behind_the_position_given(search_index: SearchIndex) -> None:
    search_index.index([search_doc(f"e{n}", "ledger") for n in range(5)])
    first, second, *_ = search_index.search(ACME, "ledger")
    behind = search_index.search(ACME, "ledger", after=first.position)
    assert [hit.entry_id for hit in behind] == ["e1", "e2", "e3", "e4"]
    assert behind[0].position == second.position
    # a position of the last hit, or of a hit since deleted, still has a place in the order
    assert search_index.search(ACME, "ledger", after=behind[-1].position) == []
    search_index.delete(["e1"])
    assert [hit.entry_id for hit in search_index.search(ACME, "ledger", after=second.position)] == [
        "e2",
        "e3",
        "e4",
    ]


@pytest.mark.parametrize(
    "after",
    [(), ("ledger",), (1.5,), (True, "x", "y"), (None, "x"), ([1], "x", "y"), (1.0, 2, "x", "y")],
)
def test_a_position_the_index_cannot_have_made_is_invalid(
    search_index: SearchIndex, after: tuple[object, ...]
) -> None:
    search_index.index([search_doc("e1", "ledger")])
    for query, filters in (("ledger", None), ("", {"folder": "INBOX"})):
        with pytest.raises(InvalidInput):
            search_index.search(ACME, query, filters=filters, after=after)  # type: ignore[arg-type]


def test_filters_select_by_authentication_result(search_index: SearchIndex) -> None:
    minute = timedelta(minutes=1)
    search_index.index(
        [
            search_doc("pass", "invoice", auth={"spf": "pass", "dkim": "pass", "dmarc": "pass"}),
            search_doc(
                "fail", "invoice", auth={"spf": "fail", "dmarc": "fail"}, received_at=START + minute
            ),
            search_doc("unchecked", "invoice", received_at=START + 2 * minute),
            search_doc("old", "other words", auth={"dmarc": "fail"}, received_at=START - minute),
            search_doc("other-box", "invoice", mailbox_id="MB-2", auth={"dmarc": "fail"}),
            search_doc("beta", "invoice", tenant_id="T-BETA", auth={"dmarc": "fail"}),
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
    assert _walk(search_index, ACME, " ", 1, filters={"dmarc": "fail"}) == [
        "fail",
        "other-box",
        "old",
    ]
    assert sorted(_ids(search_index, PLATFORM, "", filters={"dmarc": "fail"})) == [
        "beta",
        "fail",
        "old",
        "other-box",
    ]


@pytest.mark.parametrize(
    "filters",
    [
        {"sender": "x"},
        {"DMARC": "fail"},
        {"dmarc": "fail", "x": ""},
        {"dmarc": " "},
        {"after": "2024-13-01"},
        {"after": "2024-1-2"},
        {"before": "yesterday"},
        {"before": "2024-01-02T00:00:00"},
        {"from": "bob@"},
        {"from": "acme..test"},
        {"to": "two words"},
        {"subject": "!!"},
        {"tag": ""},
        {"folder": "\x00"},
    ],
)
def test_unknown_filters_and_bad_values_are_invalid(
    search_index: SearchIndex, filters: dict[str, str]
) -> None:
    search_index.index([search_doc("e1", "invoice", auth={"dmarc": "fail"})])
    with pytest.raises(InvalidInput):
        search_index.search(ACME, "invoice", filters=filters)
    with pytest.raises(InvalidInput):
        search_index.search(ACME, "", filters=filters)


def test_quoted_phrases_need_adjacent_words_in_order(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("adjacent", "open the hangar nineteen doors"),
            search_doc("punctuated", "Hangar-Nineteen! is closed"),
            search_doc("apart", "hangar number nineteen"),
            search_doc("reversed", "nineteen hangar"),
            search_doc("two-fields", "nineteen", subject="hangar"),
            search_doc("in-subject", "", subject="Hangar nineteen schedule"),
        ]
    )
    everything = ["adjacent", "apart", "in-subject", "punctuated", "reversed", "two-fields"]
    assert sorted(_ids(search_index, ACME, '"hangar nineteen"')) == [
        "adjacent",
        "in-subject",
        "punctuated",
    ]
    assert sorted(_ids(search_index, ACME, "hangar nineteen")) == everything  # words: anywhere
    assert _ids(search_index, ACME, '"hangar nineteen" doors') == ["adjacent"]
    assert _ids(search_index, ACME, '"hangar nineteen" "the doors"') == []
    assert _ids(search_index, ACME, '"nineteen hangar"') == ["reversed"]
    # a quote without its pair is an ordinary character: the words are independent
    assert sorted(_ids(search_index, ACME, '"hangar nineteen')) == everything
    assert sorted(_ids(search_index, ACME, 'hangar nineteen"')) == everything
    hits = search_index.search(ACME, '"hangar nineteen" doors')
    assert "hangar nineteen" in hits[0].snippet


def test_from_filter_matches_the_address_or_its_domain(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("exact", "", from_addr="bob@acme.test"),
            search_doc("upper", "", from_addr="Bob@ACME.Test"),
            search_doc("colleague", "", from_addr="carol@acme.test"),
            search_doc("subdomain", "", from_addr="alice@mail.acme.test"),
            search_doc("lookalike", "", from_addr="eve@notacme.test"),
            search_doc("suffixed", "", from_addr="bob@acme.test.evil"),
            search_doc("recipient", "", from_addr="x@other.test", to_addrs=("bob@acme.test",)),
            search_doc("none", "", from_addr=""),
        ]
    )

    def sender(value: str) -> list[str]:
        return sorted(_ids(search_index, ACME, "", filters={"from": value}))

    assert sender("bob@acme.test") == ["exact", "upper"]
    assert sender("BOB@Acme.TEST") == ["exact", "upper"]
    assert sender("acme.test") == ["colleague", "exact", "subdomain", "upper"]
    assert sender("@acme.test") == ["colleague", "exact", "subdomain", "upper"]
    assert sender("mail.acme.test") == ["subdomain"]
    assert sender("cme.test") == []  # whole labels only
    assert sender("bob@mail.acme.test") == []
    assert sender("evil") == ["suffixed"]


def test_to_filter_matches_any_recipient(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("to-and-cc", "", to_addrs=("jane@acme.test", "Finance@Acme.test")),
            search_doc("partner", "", to_addrs=("ops@partner.test",)),
            search_doc("sender", "", from_addr="finance@acme.test", to_addrs=("x@other.test",)),
            search_doc("nobody", "", to_addrs=()),
        ]
    )

    def recipient(value: str) -> list[str]:
        return sorted(_ids(search_index, ACME, "", filters={"to": value}))

    assert recipient("finance@acme.test") == ["to-and-cc"]
    assert recipient("jane@acme.test") == ["to-and-cc"]
    assert recipient("acme.test") == ["to-and-cc"]
    assert recipient("partner.test") == ["partner"]
    assert recipient("test") == ["partner", "sender", "to-and-cc"]
    assert recipient("absent@acme.test") == []


def test_subject_filter_looks_only_at_the_subject(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("subject", "see attachment", subject="Quarterly Report for Köln"),
            search_doc("reversed", "", subject="report, quarterly"),
            search_doc("body", "quarterly report", subject="Numbers"),
        ]
    )

    def subject(value: str, words: str = "") -> list[str]:
        return sorted(_ids(search_index, ACME, words, filters={"subject": value}))

    assert subject("quarterly") == ["reversed", "subject"]
    assert subject("QUARTERLY") == ["reversed", "subject"]
    assert subject("koln") == ["subject"]
    assert subject("quarterly report") == ["subject"]  # a phrase in the subject
    assert subject("numbers", words="quarterly") == ["body"]
    assert subject("quarterly", words="attachment") == ["subject"]
    assert subject("attachment") == []


def test_tag_and_folder_filters_are_exact(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc("work", "note", tags=("work", "Urgent")),
            search_doc("archived", "note", tags=("work",), folder="Archive/2025 Q1"),
            search_doc("plain", "note"),
        ]
    )
    assert sorted(_ids(search_index, ACME, "note", filters={"tag": "work"})) == [
        "archived",
        "work",
    ]
    assert _ids(search_index, ACME, "", filters={"tag": "Urgent"}) == ["work"]
    assert _ids(search_index, ACME, "", filters={"tag": "urgent"}) == []
    assert _ids(search_index, ACME, "", filters={"tag": "wor"}) == []
    assert _ids(search_index, ACME, "", filters={"folder": "Archive/2025 Q1"}) == ["archived"]
    assert _ids(search_index, ACME, "", filters={"folder": "Archive"}) == []
    assert sorted(_ids(search_index, ACME, "note", filters={"folder": "INBOX"})) == [
        "plain",
        "work",
    ]
    assert _ids(search_index, ACME, "", filters={"folder": "INBOX", "tag": "Urgent"}) == ["work"]


def test_tags_and_folder_follow_a_reindex(search_index: SearchIndex) -> None:
    search_index.index(
        [search_doc("e1", "note", tags=("todo",)), search_doc("e2", "note", tags=("todo",))]
    )
    search_index.index([search_doc("e1", "note", tags=("done",), folder="Archive")])
    assert _ids(search_index, ACME, "", filters={"tag": "todo"}) == ["e2"]
    assert _ids(search_index, ACME, "note", filters={"tag": "done"}) == ["e1"]
    assert _ids(search_index, ACME, "", filters={"folder": "Archive"}) == ["e1"]
    assert _ids(search_index, ACME, "", filters={"folder": "INBOX"}) == ["e2"]
    search_index.index([search_doc("e1", "note", folder="INBOX")])
    assert _ids(search_index, ACME, "", filters={"tag": "done"}) == []
    assert _ids(search_index, ACME, "", filters={"folder": "Archive"}) == []


def test_update_labels_replaces_tags_and_folder_and_keeps_the_rest(
    search_index: SearchIndex,
) -> None:
    search_index.index(
        [
            search_doc("e1", "hangar nineteen", subject="Keys", tags=("todo", "ops")),
            search_doc("e2", "hangar nineteen", tags=("todo",)),
        ]
    )
    assert search_index.update_labels("e1", ["done", "ops", "done"], "Archive/2025 Q1") is True
    assert _ids(search_index, ACME, "", filters={"tag": "todo"}) == ["e2"]
    assert _ids(search_index, ACME, "", filters={"tag": "done"}) == ["e1"]
    assert _ids(search_index, ACME, "", filters={"tag": "ops"}) == ["e1"]
    assert _ids(search_index, ACME, "", filters={"folder": "Archive/2025 Q1"}) == ["e1"]
    assert _ids(search_index, ACME, "", filters={"folder": "INBOX"}) == ["e2"]
    # the words, the subject and the scope of the document are as they were
    assert _ids(search_index, ACME, '"hangar nineteen"', filters={"folder": "Archive/2025 Q1"}) == [
        "e1"
    ]
    assert _ids(search_index, ACME, "", filters={"subject": "keys", "tag": "done"}) == ["e1"]
    assert _ids(search_index, ACME, "hangar", mailbox_id="MB-1", filters={"tag": "ops"}) == ["e1"]
    assert _ids(search_index, BETA, "hangar") == []
    # labels can be emptied, and updated again
    assert search_index.update_labels("e1", [], "INBOX") is True
    assert _ids(search_index, ACME, "", filters={"tag": "ops"}) == []
    assert sorted(_ids(search_index, ACME, "hangar", filters={"folder": "INBOX"})) == ["e1", "e2"]


def test_update_labels_of_an_entry_not_indexed_writes_nothing(search_index: SearchIndex) -> None:
    search_index.index([search_doc("e1", "note")])
    assert search_index.update_labels("ghost", ["x"], "Archive") is False
    assert _ids(search_index, ACME, "", filters={"tag": "x"}) == []
    assert _ids(search_index, ACME, "", filters={"folder": "Archive"}) == []
    assert _ids(search_index, ACME, "note") == ["e1"]
    # a deleted document is not indexed any more either
    search_index.delete(["e1"])
    assert search_index.update_labels("e1", ["x"], "Archive") is False
    assert _ids(search_index, ACME, "", filters={"folder": "Archive"}) == []
    # and a later full index is not disturbed by the refused update
    search_index.index([search_doc("ghost", "late arrival", folder="INBOX")])
    assert _ids(search_index, ACME, "late", filters={"folder": "INBOX"}) == ["ghost"]


def test_date_filters_are_utc_days(search_index: SearchIndex) -> None:
    day = datetime(2024, 3, 10, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    search_index.index(
        [
            search_doc("last-moment-before", "log", received_at=day - timedelta(microseconds=1000)),
            search_doc("midnight", "log", received_at=day),
            search_doc("evening", "log", received_at=day + timedelta(hours=23, minutes=59)),
            search_doc("next-day", "log", received_at=day + timedelta(days=1)),
            # 01:00 at UTC+2 is 23:00 UTC the day before
            search_doc(
                "local-time", "log", received_at=datetime(2024, 3, 10, 1, 0, tzinfo=plus_two)
            ),
        ]
    )

    def between(**filters: str) -> list[str]:
        return _ids(search_index, ACME, "", filters=filters)

    # filters alone: newest first
    assert between(after="2024-03-10") == ["next-day", "evening", "midnight"]
    assert between(before="2024-03-10") == ["last-moment-before", "local-time"]
    assert between(after="2024-03-10", before="2024-03-11") == ["evening", "midnight"]
    assert between(after="2024-03-11", before="2024-03-11") == []
    assert between(after="2024-03-12", before="2024-03-10") == []
    assert len(_ids(search_index, ACME, "log", filters={"after": "2024-03-09"})) == 5
    assert _ids(search_index, ACME, "log", filters={"before": "2024-03-09"}) == []


def test_filters_combine_with_words_and_each_other(search_index: SearchIndex) -> None:
    minute = timedelta(minutes=1)
    search_index.index(
        [
            search_doc(
                "match",
                "hangar nineteen invoice",
                subject="Invoice March",
                from_addr="billing@vendor.test",
                tags=("finance",),
                received_at=START + 3 * minute,
                auth={"dmarc": "pass"},
            ),
            search_doc(
                "wrong-tag",
                "hangar nineteen invoice",
                subject="Invoice March",
                from_addr="billing@vendor.test",
                received_at=START + 2 * minute,
                auth={"dmarc": "pass"},
            ),
            search_doc(
                "too-old",
                "hangar nineteen invoice",
                subject="Invoice March",
                from_addr="billing@vendor.test",
                tags=("finance",),
                received_at=START - timedelta(days=2),
                auth={"dmarc": "pass"},
            ),
            search_doc(
                "other-sender",
                "hangar nineteen invoice",
                subject="Invoice March",
                from_addr="billing@elsewhere.test",
                tags=("finance",),
                received_at=START + minute,
                auth={"dmarc": "pass"},
            ),
        ]
    )
    everything = {
        "from": "vendor.test",
        "to": "acme.test",
        "subject": "march",
        "tag": "finance",
        "folder": "INBOX",
        "after": "2024-01-01",
        "before": "2024-01-02",
        "dmarc": "pass",
    }
    assert _ids(search_index, ACME, '"hangar nineteen"', filters=everything) == ["match"]
    assert _ids(search_index, ACME, "", filters=everything) == ["match"]
    assert _ids(search_index, BETA, "", filters=everything) == []
    assert _ids(search_index, ACME, "", filters=everything, mailbox_id="MB-2") == []
    assert _ids(search_index, ACME, "", filters={**everything, "dmarc": "fail"}) == []
    assert _ids(search_index, ACME, '"nineteen hangar"', filters=everything) == []
    without_tag = {key: value for key, value in everything.items() if key != "tag"}
    assert _ids(search_index, ACME, "", filters=without_tag) == ["match", "wrong-tag"]


def test_pagination_with_filters(search_index: SearchIndex) -> None:
    search_index.index(
        [
            search_doc(
                f"e{n:02d}",
                "page",
                tags=("even",) if n % 2 == 0 else ("odd",),
                received_at=START + timedelta(minutes=n),
            )
            for n in range(25)
        ]
    )
    evens = [f"e{n:02d}" for n in reversed(range(0, 25, 2))]  # newest first
    for query in ("page", ""):
        assert _walk(search_index, ACME, query, 5, filters={"tag": "even"}) == evens
    odds = [f"e{n:02d}" for n in reversed(range(1, 25, 2))]
    assert _walk(search_index, ACME, "", 2, filters={"tag": "odd", "after": "2024-01-01"}) == odds


@pytest.mark.parametrize(
    "filters",
    [
        {"tag": "'; DROP TABLE documents; --"},
        {"tag": "%"},
        {"tag": "*"},
        {"folder": '{"match_all": {}}'},
        {"folder": "?"},
        {"subject": "NEAR(note"},
        {"subject": 'note" OR "x'},
        {"subject": "body : note"},
        {"from": "%.test"},
        {"to": "*@acme.test"},
        {"dmarc": "pass OR 1=1"},
    ],
)
def test_filter_values_are_never_syntax(search_index: SearchIndex, filters: dict[str, str]) -> None:
    search_index.index(
        [
            search_doc("e1", "note", subject="note", tags=("a%b", "abc"), folder="Archive"),
            search_doc("e2", "note", auth={"dmarc": "pass"}),
        ]
    )
    assert _ids(search_index, ACME, "note", filters=filters) == []
    assert _ids(search_index, ACME, "", filters=filters) == []
    assert sorted(_ids(search_index, ACME, "note")) == ["e1", "e2"]  # still intact


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
            search_doc("e1", "alpha beta", subject="alpha"),
            search_doc("e2", "subject and near and not"),
            search_doc("b1", "alpha beta", tenant_id="T-BETA"),
        ]
    )
    hits = search_index.search(ACME, query)
    assert all(hit.entry_id in {"e1", "e2"} for hit in hits)
    # still intact afterwards
    assert _ids(search_index, ACME, "beta") == ["e1"]


def test_operators_have_no_power(search_index: SearchIndex) -> None:
    search_index.index([search_doc("e1", "alpha beta"), search_doc("e2", "gamma")])
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
        ('say "hi"', '"say" "hi"'),
        ('"hangar  nineteen" x', '"hangar nineteen" "x"'),
        ('say"hi', '"say""hi"'),
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
                index.index([search_doc(f"{prefix}{n}", f"shared word{n}")])
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
    index.index([search_doc("e1", "persisted")])
    index.close()
    reopened = Fts5SearchIndex(tmp_path / "search.db")
    try:
        assert _ids(reopened, ACME, "persisted") == ["e1"]
    finally:
        reopened.close()


def test_an_index_of_an_older_layout_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "search.db"
    # the layout before labels: no folder, tags or address keys on the side table
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE documents (rowid INTEGER PRIMARY KEY, entry_id TEXT NOT NULL UNIQUE, "
        "tenant_id TEXT NOT NULL, mailbox_id TEXT NOT NULL, received_at TEXT NOT NULL, "
        "auth_spf TEXT, auth_dkim TEXT, auth_dmarc TEXT, auth_arc TEXT);"
        "CREATE VIRTUAL TABLE fulltext USING fts5(subject, from_addr, to_addrs, body);"
        "INSERT INTO documents VALUES (1, 'stale', 'T-ACME', 'MB-1', '2024', NULL, NULL, NULL, "
        "NULL);"
        "INSERT INTO fulltext (rowid, body) VALUES (1, 'stale words');"
        "PRAGMA user_version = 2;"
    )
    old.close()
    index = Fts5SearchIndex(path)
    try:
        assert _ids(index, ACME, "stale") == []  # dropped: the indexer fills it again
        index.index([search_doc("e1", "fresh", tags=("t",))])
        assert _ids(index, ACME, "fresh", filters={"tag": "t"}) == ["e1"]
    finally:
        index.close()
