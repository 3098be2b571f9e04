from __future__ import annotations

from mairust.model.search_query import parse_search


def test_words_and_filters():
    query = parse_search("invoice DMARC:Fail march spf:pass")
    assert query.text == "invoice march"
    assert query.filters == {"dmarc": "fail", "spf": "pass"}


def test_unknown_keys_and_empty_values_stay_words():
    query = parse_search("http://x.example subject: dmarc:")
    assert query.text == "http://x.example subject: dmarc:"
    assert query.filters == {}


def test_emptiness():
    assert parse_search("   ").is_empty
    assert not parse_search("dmarc:fail").is_empty
