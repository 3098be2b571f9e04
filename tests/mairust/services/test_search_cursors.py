"""Search cursors open only for the search, scope and key that sealed them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from mairust.errors import InvalidInput
from mairust.model.scope import PLATFORM, TenantScope
from mairust.model.search_query import parse_search
from mairust.services.search_cursors import MAX_CURSOR_LENGTH, SearchCursors, search_binding

OLD, NEW = b"o" * 32, b"n" * 32
ACME = TenantScope("T-ACME")
BINDING = search_binding(ACME, None, parse_search("invoice dmarc:fail"))


def test_a_cursor_opens_to_its_position() -> None:
    cursors = SearchCursors([NEW])
    position = (-1.2345678901234567, "2026-02-01T00:00:00.000000Z", "01JENTRY")
    cursor = cursors.seal(BINDING, position)
    assert cursors.open(BINDING, cursor) == position  # floats exactly, not rounded
    assert len(cursor) < MAX_CURSOR_LENGTH / 2
    assert cursors.open(BINDING, cursors.seal(BINDING, (0.1, 1_767_225_600_000, "e"))) == (
        0.1,
        1_767_225_600_000,
        "e",
    )


def test_the_binding_covers_scope_mailbox_words_and_filters() -> None:
    query = parse_search("invoice dmarc:fail")
    bindings = {
        search_binding(ACME, None, query),
        search_binding(TenantScope("T-BETA"), None, query),
        search_binding(TenantScope("T-ACME", "MB-1"), None, query),
        search_binding(PLATFORM, None, query),
        search_binding(ACME, "MB-1", query),
        search_binding(ACME, None, parse_search("invoice")),
        search_binding(ACME, None, parse_search("invoice dmarc:pass")),
        search_binding(ACME, None, parse_search("invoices dmarc:fail")),
    }
    assert len(bindings) == 8
    # the same search written differently (filter order, case of a result word) is the same
    assert search_binding(ACME, None, parse_search("DMARC:Fail  invoice")) == BINDING


def test_a_rotated_key_still_opens_and_an_unknown_one_does_not() -> None:
    cursor = SearchCursors([OLD]).seal(BINDING, (1.0, "t", "e"))
    assert SearchCursors([NEW, OLD]).open(BINDING, cursor) == (1.0, "t", "e")
    with pytest.raises(InvalidInput):
        SearchCursors([NEW]).open(BINDING, cursor)
    with pytest.raises(ValueError):
        SearchCursors([])


def test_a_mac_written_another_way_is_refused() -> None:
    """A 32-byte MAC is 43 base64 characters, whose last one carries 2 unused bits: the
    three other spellings of that character decode to the same MAC, and are refused."""
    cursors = SearchCursors([NEW])
    cursor = cursors.seal(BINDING, (1.0, "t", "e"))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(cursor[-1])
    for unused in (1, 2, 3):
        respelled = cursor[:-1] + alphabet[last ^ unused]
        assert base64.urlsafe_b64decode(respelled.rsplit(".", 1)[1] + "=") == (
            base64.urlsafe_b64decode(cursor.rsplit(".", 1)[1] + "=")
        )
        with pytest.raises(InvalidInput):
            cursors.open(BINDING, respelled)


def test_a_sealed_payload_that_is_not_a_position_is_invalid() -> None:
    # Only a holder of the key could make these; refused all the same, never a 500.
    cursors = SearchCursors([NEW])
    assert cursors.open(BINDING, _forged([1.0, "t", "e"])) == (1.0, "t", "e")  # forged right
    for value in ({"a": 1}, [True], [None], [[1]], "text"):
        with pytest.raises(InvalidInput):
            cursors.open(BINDING, _forged(value))


def _forged(value: object) -> str:
    """A cursor of ``value`` sealed with NEW, made by hand."""
    payload = base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    key = hmac.new(NEW, b"mairust/search-cursors/hmac-sha256/v1", hashlib.sha256).digest()
    digest = hmac.new(key, BINDING + b"\0" + payload.encode(), hashlib.sha256).digest()
    return f"s1.{payload}." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
