"""What the DLP plugin looks for: payment card numbers (13 to 19 digits, single spaces or
dashes between them allowed, a card network's first digit, Luhn-checked), IBANs (a country,
two check digits, up to 30 letters and digits, spaces allowed, mod-97 checked against the
country's length where it is known) and configured regular expressions. Each finder
answers how many it found, never what: the numbers themselves are never repeated."""

from __future__ import annotations

import re
from collections.abc import Iterable

# 13-19 digits with at most one space or dash between two of them, not inside a longer
# run of digits. The first digit is a card network's (2 and 5 Mastercard, 3 Amex, Diners
# and JCB, 4 Visa, 6 Discover, UnionPay and Maestro): order and phone numbers starting
# otherwise are not cards, whatever their check digit.
_CARD = re.compile(r"(?<![\d-])[2-6](?:[ -]?\d){12,18}(?![\d])")
# An IBAN-shaped run (country, check digits, groups of letters and digits): its digits are
# an account number, never a card, whatever their Luhn sum.
_IBAN_SHAPED = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b")
_IBAN_START = re.compile(r"\b([A-Z]{2})(\d{2})")
_IBAN_CHAR = re.compile(r"[A-Z0-9]")

# ISO 13616 lengths of the countries most mail here is likely to carry; another country's
# IBAN is checked at every length from 15 to 34.
IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of digits: every second digit from the right doubled."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> int:
    """How many Luhn-valid card numbers ``text`` holds."""
    found = 0
    for match in _CARD.finditer(_IBAN_SHAPED.sub(" ", text)):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found += 1
    return found


def iban_ok(compact: str) -> bool:
    """ISO 13616 mod-97: the first four characters moved to the end, letters as 10-35."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def ibans(text: str) -> int:
    """How many valid IBANs ``text`` holds (upper case, grouped by spaces or not)."""
    found = 0
    position = 0
    while (start := _IBAN_START.search(text, position)) is not None:
        compact = _compact_run(text, start.start())
        country = start.group(1)
        lengths: Iterable[int] = (
            (IBAN_LENGTHS[country],) if country in IBAN_LENGTHS else range(34, 14, -1)
        )
        length = next((n for n in lengths if n <= len(compact) and iban_ok(compact[:n])), 0)
        if length:
            found += 1
            position = _end_of(text, start.start(), length)
        else:
            position = start.end()
    return found


def _compact_run(text: str, start: int) -> str:
    """Up to 34 letters and digits from ``start``, over single spaces between them."""
    chars: list[str] = []
    index = start
    while index < len(text) and len(chars) < 34:
        char = text[index]
        if _IBAN_CHAR.fullmatch(char):
            chars.append(char)
        elif not (char == " " and index + 1 < len(text) and _IBAN_CHAR.fullmatch(text[index + 1])):
            break
        index += 1
    return "".join(chars)


def _end_of(text: str, start: int, length: int) -> int:
    """Where the IBAN of ``length`` characters that starts at ``start`` ends in ``text``."""
    seen = 0
    index = start
    while seen < length:
        if text[index] != " ":
            seen += 1
        index += 1
    return index


def pattern_hits(text: str, patterns: Iterable[tuple[str, re.Pattern[str]]]) -> list[str]:
    """The names of the configured patterns found in ``text``, in their order."""
    return [name for name, pattern in patterns if pattern.search(text)]
