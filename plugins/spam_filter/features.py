"""What the classifier sees of a message: the words of its subject and body, and a few
traits of its header fields, as tokens hashed into a fixed-size count vector.

Subject words are kept apart from body words (``s:`` before them); header traits are
tokens of their own (``h:...``): the sender's domain, a Reply-To pointing elsewhere, a
shouted subject, a missing Message-ID or Date, the mailer's name, and how many links
and amounts the body holds. Hashing (no vocabulary) keeps the model a fixed size and lets
it learn words it has never seen without being rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import HashingVectorizer

from mairust.plugin_sdk import HookRequest

N_FEATURES = 2**18
_WORD = re.compile(r"[a-z0-9$£€][a-z0-9'$£€%-]{1,30}")
_LINK = re.compile(r"https?://", re.IGNORECASE)
_AMOUNT = re.compile(r"(?:[$£€]|\b(?:usd|eur)\s?)\d", re.IGNORECASE)


def tokens(headers: Sequence[tuple[str, str]], body: str) -> list[str]:
    """The tokens of one message (its header fields and the text of its body)."""
    fields: dict[str, str] = {}
    for name, value in headers:
        fields.setdefault(name.lower(), value)
    subject = fields.get("subject", "")
    found = ["s:" + word for word in _WORD.findall(subject.lower())]
    found += _WORD.findall(body.lower())
    found += _header_traits(fields, subject)
    found.append(f"h:links={_bucket(len(_LINK.findall(body)))}")
    found.append(f"h:amounts={_bucket(len(_AMOUNT.findall(body)))}")
    return found


def tokens_of(request: HookRequest) -> list[str]:
    return tokens(request.headers or [], request.body_preview or "")


def _header_traits(fields: dict[str, str], subject: str) -> list[str]:
    traits = []
    sender = _domain(fields.get("from", ""))
    traits.append(f"h:from={sender}")
    reply_to = fields.get("reply-to")
    if reply_to is not None and _domain(reply_to) != sender:
        traits.append("h:reply-to-elsewhere")
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 6 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        traits.append("h:subject-shouts")
    if "!" in subject:
        traits.append("h:subject-exclaims")
    for name in ("message-id", "date"):
        if name not in fields:
            traits.append(f"h:no-{name}")
    mailer = fields.get("x-mailer", "").split()
    if mailer:
        traits.append(f"h:mailer={mailer[0].lower()}")
    return traits


def _domain(address: str) -> str:
    match = re.search(r"@([A-Za-z0-9.-]+)", address)
    return match.group(1).lower() if match else "-"


def _bucket(count: int) -> str:
    return "0" if count == 0 else "1" if count == 1 else "2-4" if count <= 4 else "5+"


_VECTORIZER = HashingVectorizer(
    n_features=N_FEATURES,
    analyzer=lambda found: found,  # documents arrive tokenised
    alternate_sign=False,  # counts stay counts: naive Bayes needs them non-negative
    binary=True,  # a word said ten times says little more than once
    norm=None,
)


def vectors(documents: Iterable[list[str]]) -> csr_matrix:
    """One row per tokenised document."""
    matrix: csr_matrix = _VECTORIZER.transform(documents)
    return matrix
