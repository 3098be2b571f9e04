"""The OpenSearch request body of one search: terms, filters, scope, order and highlighting.

Built from checked, typed values (:class:`mairust.model.search_query.SearchFilters`); user
text reaches the engine only as text to analyse (``multi_match``, ``match_phrase``), never
as query syntax. Filters sit in filter context, so they never weigh in the rank, as in the
embedded FTS5 index.
"""

from __future__ import annotations

from typing import Any

from mairust.errors import InvalidInput
from mairust.model.mailbox import SearchPosition
from mairust.model.scope import PlatformScope, Scope, TenantScope
from mairust.model.search_query import SearchFilters

TEXT_FIELDS = ("subject", "body", "from_addr.text", "to_addrs.text")
# The highlighter marks words with private-use characters (never markup); see snippet_of().
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
_FRAGMENT_CHARS = 150


def search_after(after: SearchPosition, scored: bool) -> list[str | int | float]:
    """``after`` as the sort values of a hit of this order (``search_after``): score,
    received_at in epoch milliseconds and entry id; without the score when ``scored`` is
    False. InvalidInput for anything else, before it reaches the engine."""
    match after:
        case (float() | int() as score, int() as received, str() as entry_id) if scored:
            if not isinstance(score, bool) and not isinstance(received, bool):
                return [score, received, entry_id]
        case (int() as received, str() as entry_id) if not scored:
            if not isinstance(received, bool):
                return [received, entry_id]
    raise InvalidInput("not a position in this search index's order")


def search_body(
    scope: Scope, terms: list[str], mailbox_id: str | None, filters: SearchFilters
) -> dict[str, Any]:
    """Every term required (best first, ties newest first, then by entry id: a total
    order, which ``search_after`` pages through); filters alone: newest first."""
    conditions = filter_conditions(scope, mailbox_id, filters)
    newest_first = [{"received_at": "desc"}, {"entry_id": "asc"}]
    if not terms:  # filters alone: no text rank
        return {"query": {"bool": {"filter": conditions}}, "sort": newest_first}
    # Each term a phrase of its own tokens in any one field: "foo-bar" needs "foo bar",
    # "hangar nineteen" the two words side by side in the subject, or the body, or ...
    required = [
        {"multi_match": {"query": term, "type": "phrase", "fields": list(TEXT_FIELDS)}}
        for term in terms
    ]
    return {
        "query": {"bool": {"must": required, "filter": conditions}},
        "sort": [{"_score": "desc"}, *newest_first],
        "track_scores": True,
        "highlight": {
            "type": "unified",
            "pre_tags": [MARK_OPEN],
            "post_tags": [MARK_CLOSE],
            "fragment_size": _FRAGMENT_CHARS,
            "number_of_fragments": 1,
            "fields": {field: {} for field in TEXT_FIELDS},
            # The words searched for are marked, not a subject: filter's words.
            "highlight_query": {"bool": {"must": required}},
        },
    }


def filter_conditions(
    scope: Scope, mailbox_id: str | None, filters: SearchFilters
) -> list[dict[str, Any]]:
    """The non-scoring conditions: tenant scope, mailbox and every filter."""
    conditions: list[dict[str, Any]] = [
        {"term": {f"auth.{key}": value}} for key, value in sorted(filters.auth.items())
    ]
    if isinstance(scope, TenantScope):
        conditions.append({"term": {"tenant_id": scope.tenant_id}})
        if scope.mailbox_id is not None:
            conditions.append({"term": {"mailbox_id": scope.mailbox_id}})
    else:
        assert isinstance(scope, PlatformScope)  # a third kind must not see everything
    if mailbox_id is not None:
        conditions.append({"term": {"mailbox_id": mailbox_id}})
    for field, wanted in (
        ("from_keys", filters.from_key),
        ("to_keys", filters.to_key),
        ("tags", filters.tag),
        ("folder", filters.folder),
    ):
        if wanted is not None:
            conditions.append({"term": {field: wanted}})
    received: dict[str, str] = {}
    if filters.after is not None:
        received["gte"] = filters.after.isoformat()
    if filters.before is not None:
        received["lt"] = filters.before.isoformat()
    if received:
        conditions.append({"range": {"received_at": received}})
    if filters.subject is not None:
        conditions.append({"match_phrase": {"subject": {"query": filters.subject}}})
    return conditions
