from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mairust.errors import InvalidInput
from mairust.model.search_query import (
    FILTER_KEYS,
    SearchFilters,
    address_keys,
    normalised_filters,
    parse_search,
    search_filters,
    search_terms,
)


def test_words_and_filters():
    query = parse_search("invoice DMARC:Fail march spf:pass")
    assert query.text == "invoice march"
    assert query.filters == {"dmarc": "fail", "spf": "pass"}


def test_unknown_keys_and_empty_values_stay_words():
    query = parse_search("http://x.example subject: dmarc: from:")
    assert query.text == "http://x.example subject: dmarc: from:"
    assert query.filters == {}


def test_emptiness():
    assert parse_search("   ").is_empty
    assert parse_search('"" * ( )').is_empty
    assert not parse_search("dmarc:fail").is_empty
    assert not parse_search("tag:x").is_empty


def test_every_filter_key():
    query = parse_search(
        "FROM:Bob@Acme.Test to:partner.test subject:Report tag:Urgent folder:Archive "
        "after:2024-01-02 before:2024-02-01 arc:none words"
    )
    assert query.text == "words"
    assert query.filters == {
        "from": "bob@acme.test",
        "to": "@partner.test",
        "subject": "Report",
        "tag": "Urgent",  # exact: case is kept
        "folder": "Archive",
        "after": "2024-01-02",
        "before": "2024-02-01",
        "arc": "none",
    }
    assert set(query.filters) == set(FILTER_KEYS) - {"spf", "dkim", "dmarc"}


def test_quoted_phrases_are_one_term():
    query = parse_search('invoice "hangar   nineteen" "from:bob" march')
    assert query.text == 'invoice "hangar nineteen" "from:bob" march'
    assert query.filters == {}  # a quoted filter is a phrase
    assert search_terms(query.text) == ["invoice", "hangar nineteen", "from:bob", "march"]


def test_quoted_filter_values_hold_spaces():
    query = parse_search('folder:"Archive/2025 Q1" subject:"quarterly  report" note:"a b" x')
    assert query.filters == {"folder": "Archive/2025 Q1", "subject": "quarterly report"}
    assert search_terms(query.text) == ["note: a b", "x"]  # unknown key: a phrase


def test_unpaired_quotes_are_ordinary_characters():
    assert search_terms('"unbalanced words') == ['"unbalanced', "words"]
    assert search_terms('say"hi there') == ['say"hi', "there"]
    query = parse_search('"unbalanced words')
    # the quote is no token character: the text splits into the same tokens again
    assert query.text == "unbalanced words"
    assert search_terms(query.text) == ["unbalanced", "words"]


def test_quotes_pair_up_across_words():
    assert search_terms('a "b c" d "e') == ["a", "b c", "d", '"e']
    assert search_terms('"ab"cd') == ["ab", "cd"]


def test_search_terms_split_like_fts5():
    assert search_terms('say "hi" * ( ) alpha\x00beta\u200bgamma') == [
        "say",
        "hi",
        "alpha",
        "beta",
        "gamma",
    ]
    assert search_terms('"alpha\x00beta"') == ["alpha beta"]
    assert search_terms('"" "  " "*"') == []


def test_the_last_value_of_a_key_wins():
    assert parse_search("tag:a tag:b").filters == {"tag": "b"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("after:2024-13-01", "YYYY-MM-DD"),
        ("before:2024-02-30", "YYYY-MM-DD"),
        ("after:2024-1-2", "YYYY-MM-DD"),
        ("before:20240102", "YYYY-MM-DD"),
        ("after:yesterday", "YYYY-MM-DD"),
        ("from:bob@", "address or a domain"),
        ("to:@", "address or a domain"),
        ("from:acme..test", "address or a domain"),
        ('to:"two words"', "address or a domain"),
        ("subject:!!", "no word"),
    ],
)
def test_bad_filter_values_are_invalid_input(raw, message):
    with pytest.raises(InvalidInput, match=message):
        parse_search(f"invoice {raw}")


def test_address_keys():
    assert address_keys("Bob@Mail.Acme.Test") == (
        "bob@mail.acme.test",
        "@mail.acme.test",
        "@acme.test",
        "@test",
    )
    assert address_keys('"a@b"@acme.test') == ('"a@b"@acme.test', "@acme.test", "@test")
    assert address_keys("@acme.test") == ("@acme.test", "@test")
    assert address_keys("") == ()
    assert address_keys("no-domain") == ()
    assert address_keys("x@a..b") == ()


def test_search_filters_are_typed():
    typed = search_filters(
        {"dmarc": "FAIL", "from": "acme.test", "after": "2024-01-02", "before": "2024-01-03"}
    )
    assert typed == SearchFilters(
        auth={"dmarc": "fail"},
        from_key="@acme.test",
        after=datetime(2024, 1, 2, tzinfo=UTC),
        before=datetime(2024, 1, 3, tzinfo=UTC),
    )
    assert search_filters(None) == SearchFilters()


@pytest.mark.parametrize(
    "filters", [{"From": "x.test"}, {"x": "y"}, {"tag": ""}, {"dmarc": "  "}, {"folder": "\x00"}]
)
def test_unknown_keys_and_empty_values_are_invalid_for_backends(filters):
    with pytest.raises(InvalidInput):
        normalised_filters(filters)


def test_normalising_twice_changes_nothing():
    once = parse_search('from:Acme.Test to:Bob@X.Test subject:"a  b" dmarc:Pass tag:T').filters
    assert normalised_filters(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        'invoice "hangar nineteen" "from:bob" march',
        'say"hi "unpaired x:"a b" dmarc:',
        '"tag:x" tag: "a:b:c"',
    ],
)
def test_the_text_reads_back_as_the_same_terms_and_no_filters(raw):
    query = parse_search(raw)
    again = parse_search(query.text)
    assert again.filters == {}
    assert again.text == query.text
    assert search_terms(again.text) == search_terms(query.text)
