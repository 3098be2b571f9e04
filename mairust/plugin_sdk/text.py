"""Text helpers for plugins that read a message's words: a ``body-preview`` is the first
text/plain part, or the HTML part when the message has no plain text (newsletters often
have none), and a model fed markup learns markup. :func:`plain_text` gives the words."""

from __future__ import annotations

import html
import re

_HIDDEN = re.compile(r"<(script|style|head|title)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_LINE_BREAK = re.compile(r"<\s*br\b[^>]*>", re.IGNORECASE)
_BLOCK_END = re.compile(r"<\s*/(p|div|li|tr|table|h[1-6]|blockquote)\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>|<!--.*?-->", re.DOTALL)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_LOOKS_HTML = re.compile(r"<\s*(html|body|div|p|br|table|span|a)\b", re.IGNORECASE)


def plain_text(text: str) -> str:
    """``text`` itself, or, when it looks like HTML, its visible words: scripts, styles
    and the head removed, a block (paragraph, heading, ...) a paragraph of its own (a blank
    line after it), ``<br>`` a line break, other tags dropped, entities decoded."""
    if not _LOOKS_HTML.search(text):
        return text
    text = _HIDDEN.sub(" ", text).replace("\r", " ").replace("\n", " ")
    text = _BLOCK_END.sub("\n\n", _LINE_BREAK.sub("\n", text))
    text = html.unescape(_TAG.sub(" ", text))
    lines = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", lines).strip()
