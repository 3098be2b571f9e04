"""Sentence splitting and extractive ranking without downloaded data: sentences end at
``.``, ``!``, ``?`` (or ``…``) followed by a space and an upper-case letter, a digit or a
quote, except after the usual abbreviations and initials, and at blank lines; a sentence's
score is the mean frequency of its content words in the message, with a bonus for the
Subject's words and for coming first (mail puts the point early)."""

from __future__ import annotations

import re
from collections import Counter

# Abbreviations that end in a full stop without ending a sentence (lower case, no dot).
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof st vs etc eg ie e.g i.e approx dept inc ltd co corp jan feb mar apr "
    "jun jul aug sep sept oct nov dec no nr tel fig ca cf resp bzw usw z.b d.h mme mlle"
)
ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
# Words too common to say what a message is about (English, French, German, Spanish).
_STOPWORD_TEXT = """
    a an and are as at be been but by can could did do does for from had has have he her
    his how i if in into is it its just me my no not of on or our she so than that the
    their them then there these they this to too us was we were what when which who will
    with would you your please thanks thank hi hello dear regards best
    le la les un une des et est en du de dans pour que qui sur pas plus par avec ce cette
    vous nous je il elle au aux ne se sont bonjour merci cordialement
    der die das und ist ein eine zu den von mit sich des auf für nicht im dem sie ich es wir
    ihr am hallo danke grüße
    el los las y es en un una que por con para del al lo se su sus hola gracias saludos"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-ZÀ-ÖØ-Þ0-9])")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_GREETING = re.compile(r"^(hi|hello|dear|hey|bonjour|hallo|hola|guten tag)\b[^.!?]*,$", re.I)
# A closing ("Best regards, Tom"): never part of a summary.
_CLOSING = re.compile(
    r"^((best|kind|warm)( regards)?|regards|cheers|sincerely|thanks|many thanks|"
    r"cordialement|bien à vous|mit freundlichen grüßen|viele grüße|saludos|un saludo)\b",
    re.I,
)


def clean_lines(text: str) -> list[str]:
    """The message's own text as paragraphs: quoted lines (``>``), the signature (after
    ``-- ``), a quoted reply's "On ... wrote:" line and a greeting line ("Hi Anna,") left
    out."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip() == "--" or line.startswith("-- "):
            break
        stripped = line.strip()
        if stripped.startswith(">") or re.match(r"^On .{5,200} wrote:$", stripped):
            continue
        if not stripped or _GREETING.match(stripped):  # a greeting stands alone
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order (paragraph breaks end a sentence too)."""
    sentences: list[str] = []
    for paragraph in clean_lines(text):
        start = 0
        for boundary in _BOUNDARY.finditer(paragraph):
            before = paragraph[start : boundary.start()]
            last = before.rsplit(None, 1)[-1] if before.split() else ""
            word = last.rstrip(".").lower()
            if word in ABBREVIATIONS or re.fullmatch(r"[A-Za-z]", word):
                continue  # "Dr. Smith", "J. Doe": not an end
            sentences.append(before.strip())
            start = boundary.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s and not _GREETING.match(s) and not _closing(s)]


def _closing(sentence: str) -> bool:
    return len(sentence.split()) <= 6 and _CLOSING.match(sentence) is not None


def words(text: str) -> list[str]:
    """Content words of ``text``, lower case."""
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]


def summarize(subject: str, text: str, max_sentences: int = 2, max_chars: int = 400) -> str:
    """The ``max_sentences`` best sentences, in their order, within ``max_chars``."""
    sentences = [s for s in split_sentences(text) if len(s.split()) >= 3]
    if not sentences:
        return ""
    counts = Counter(w for s in sentences for w in words(s))
    subject_words = set(words(subject))
    scored: list[tuple[float, int]] = []
    for index, sentence in enumerate(sentences):
        own = words(sentence)
        if not own:
            continue
        score = sum(counts[w] for w in own) / len(own)
        score += 1.5 * len(subject_words.intersection(own))
        score += 1.0 if index == 0 else 0.0
        scored.append((score, index))
    chosen: list[int] = []
    length = 0
    for _, index in sorted(scored, key=lambda pair: (-pair[0], pair[1])):
        extra = len(sentences[index]) + (1 if chosen else 0)
        if len(chosen) == max_sentences or (chosen and length + extra > max_chars):
            continue
        chosen.append(index)
        length += extra
    summary = " ".join(sentences[i] for i in sorted(chosen))
    return summary if len(summary) <= max_chars else summary[: max_chars - 1].rstrip() + "…"
