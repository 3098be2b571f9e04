"""The search box's little language: words, quoted phrases and ``key:value`` filters.

``from:billing@vendor.test after:2025-01-01 "hangar nineteen" invoice`` finds messages
from that sender, received on or after 1 January 2025 (UTC), that contain the words
"hangar nineteen" next to each other and in that order (in one field), and "invoice".

Words and phrases: every one is required, in any of subject, body, sender or recipients.
A word is a phrase of its own tokens (``foo-bar`` needs "foo bar"); a double-quoted run is
one phrase; a quote without its pair is an ordinary character. Nothing else is syntax:
AND/OR/NOT, ``*``, ``-``, parentheses are searched as words.

Filters (keys are case-insensitive; a value may be double-quoted to hold spaces; the
last value given for a key wins; any other ``a:b`` is a word):

- ``spf:``, ``dkim:``, ``dmarc:``, ``arc:`` and an RFC 8601 result word (``dmarc:fail``);
- ``from:`` the From address, ``to:`` any To or Cc address: an exact address
  (``from:bob@acme.test``) or a domain with its subdomains (``from:acme.test``,
  ``from:@acme.test``), case-insensitive;
- ``subject:`` a word (or quoted phrase) that must appear in the subject;
- ``tag:`` an exact tag, ``folder:`` an exact folder name;
- ``after:YYYY-MM-DD`` received on or after that day, ``before:YYYY-MM-DD`` received
  before that day (UTC days).

A filter with a value it cannot use (a date that is no date) is :class:`InvalidInput`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from mairust.errors import InvalidInput

# Authentication outcome filters (RFC 8601 words), one per check the message went through.
AUTH_FILTER_KEYS = ("spf", "dkim", "dmarc", "arc")
FILTER_KEYS = (*AUTH_FILTER_KEYS, "from", "to", "subject", "tag", "folder", "after", "before")

# A quoted run, optionally right after ``key:``; otherwise a run of non-space characters.
_TOKEN = re.compile(r'(?:(?P<key>[^\s":]+):)?"(?P<quoted>[^"]*)"|(?P<bare>\S+)')
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """``text``: the words and phrases (phrases double-quoted), for ``SearchIndex.search``;
    ``filters``: normalised filter values by key, valid for :func:`search_filters`."""

    text: str
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and not self.filters


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """The filters of one search, checked and typed for the search backends."""

    auth: dict[str, str] = field(default_factory=dict)  # {"dmarc": "fail"}
    from_key: str | None = None  # one of address_keys() of the From address
    to_key: str | None = None  # one of address_keys() of a To/Cc address
    subject: str | None = None  # words that must appear, adjacent, in the subject
    tag: str | None = None
    folder: str | None = None
    after: datetime | None = None  # received_at >= after (UTC midnight)
    before: datetime | None = None  # received_at < before (UTC midnight)


def parse_search(raw: str) -> SearchQuery:
    """Split ``raw`` into words, phrases and filters; InvalidInput for a bad filter value."""
    terms: list[str] = []
    filters: dict[str, str] = {}
    for key, value, as_term in _tokens(raw):
        if key is not None and key.lower() in FILTER_KEYS and value.strip():
            filters[key.lower()] = value
        else:
            terms.extend(_searchable([as_term]))
    return SearchQuery(text=_joined(terms), filters=normalised_filters(filters))


def search_terms(text: str) -> list[str]:
    """The words and phrases of ``text``, each with single spaces between its words.

    Both search backends read the query text through this, so they split it alike.
    Control and format characters (NUL, zero-width space) separate words; a term
    without a letter or digit has no token, so it is dropped. No filters here: in the
    text given to a backend, ``from:x`` is the phrase "from x".
    """
    return _searchable(as_term for _, _, as_term in _tokens(text))


def normalised_filters(filters: Mapping[str, str]) -> dict[str, str]:
    """``filters`` with canonical values (lowercase results and addresses, single spaces);
    InvalidInput for an unknown key or a value that key cannot use."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise InvalidInput(f"unknown search filter(s) {unknown}; known: {list(FILTER_KEYS)}")
    normalised: dict[str, str] = {}
    for key, raw in filters.items():
        value = " ".join(_without_controls(raw).split())
        if not value:
            raise InvalidInput(f"the search filter {key}: needs a value")
        if key in AUTH_FILTER_KEYS:
            value = value.lower()
        elif key in ("from", "to"):
            value = address_filter_key(key, value)
        elif key == "subject" and not _has_token(value):
            raise InvalidInput(f"subject:{value} has no word to search for")
        elif key in ("after", "before"):
            _day(key, value)
        normalised[key] = value
    return normalised


def search_filters(filters: Mapping[str, str] | None) -> SearchFilters:
    """The typed filters for a backend; InvalidInput as :func:`normalised_filters` says."""
    values = normalised_filters(filters or {})
    return SearchFilters(
        auth={key: values[key] for key in AUTH_FILTER_KEYS if key in values},
        from_key=values.get("from"),
        to_key=values.get("to"),
        subject=values.get("subject"),
        tag=values.get("tag"),
        folder=values.get("folder"),
        after=_day("after", values["after"]) if "after" in values else None,
        before=_day("before", values["before"]) if "before" in values else None,
    )


def address_keys(address: str) -> tuple[str, ...]:
    """What ``from:``/``to:`` match an address by: the address itself, then ``@`` and each
    domain suffix: ``Bob@Mail.Acme.test`` → ``bob@mail.acme.test``, ``@mail.acme.test``,
    ``@acme.test``, ``@test``. Nothing for a value without a domain."""
    lowered = address.strip().lower()
    local, at, domain = lowered.rpartition("@")
    labels = domain.split(".")
    if not at or not domain or not all(labels):
        return ()
    suffixes = tuple("@" + ".".join(labels[n:]) for n in range(len(labels)))
    return (lowered, *suffixes) if local else suffixes


def address_filter_key(key: str, value: str) -> str:
    """The one of :func:`address_keys` a ``from:``/``to:`` value asks for."""
    lowered = value.lower()
    candidate = lowered if "@" in lowered else "@" + lowered
    keys = () if any(c.isspace() for c in lowered) else address_keys(candidate)
    if not keys:
        raise InvalidInput(f"{key}: wants an address or a domain, got {value!r}")
    return keys[0]


def _tokens(text: str) -> Iterator[tuple[str | None, str, str]]:
    """Each token as ``(key or None, value, the token read as a term)``."""
    for match in _TOKEN.finditer(_without_controls(text)):
        quoted = match.group("quoted")
        if quoted is not None:
            key = match.group("key")
            yield key, quoted, quoted if key is None else f"{key}: {quoted}"
            continue
        bare = match.group("bare")
        key, sep, value = bare.partition(":")
        yield (key if sep and key else None), value, bare


def _searchable(terms: Iterator[str] | list[str]) -> list[str]:
    normalised = (" ".join(term.split()) for term in terms)
    return [term for term in normalised if _has_token(term)]


def _joined(terms: list[str]) -> str:
    """Terms back as query text that :func:`search_terms` splits into the same terms, and
    that :func:`parse_search` would read the same way (a quoted ``"from:bob"`` stays quoted).

    A quote is no token character in either backend, so in a term holding one (an
    unpaired quote inside a word) it becomes a space: the same tokens.
    """
    plain_terms = (" ".join(term.replace('"', " ").split()) for term in terms)
    return " ".join(term if _stands_alone(term) else f'"{term}"' for term in plain_terms)


def _stands_alone(term: str) -> bool:
    key, sep, value = term.partition(":")
    looks_like_filter = bool(sep) and key.lower() in FILTER_KEYS and bool(value)
    return not looks_like_filter and not any(c.isspace() for c in term)


def _has_token(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _without_controls(text: str) -> str:
    # NUL would end an FTS5 string early; a zero-width space must not glue two words.
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


def _day(key: str, value: str) -> datetime:
    """UTC midnight of ``value`` (YYYY-MM-DD); InvalidInput otherwise."""
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{key}: wants a date as YYYY-MM-DD, got {value!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
