"""The search box's little language: free words plus ``key:value`` filters.

``dmarc:fail invoice`` finds messages whose DMARC result was ``fail`` and that contain
"invoice". Only the keys in ``FILTER_KEYS`` are filters; any other ``a:b`` is a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Authentication outcome filters (RFC 8601 words); more keys arrive with richer search.
FILTER_KEYS = ("spf", "dkim", "dmarc", "arc")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and not self.filters


def parse_search(raw: str) -> SearchQuery:
    """Split ``raw`` into words and filters; the last value given for a key wins."""
    words: list[str] = []
    filters: dict[str, str] = {}
    for token in raw.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() in FILTER_KEYS and value:
            filters[key.lower()] = value.lower()
        else:
            words.append(token)
    return SearchQuery(text=" ".join(words), filters=filters)
