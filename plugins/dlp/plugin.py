"""The DLP plugin: at ``pre_send`` it reads the outgoing message's Subject and text parts
and looks for payment card numbers, IBANs and configured patterns (``detectors``). What it
finds decides by ``action``: ``reject`` (the default) refuses the message with a reply
naming what was found, never the numbers themselves; ``quarantine`` holds it; ``tag``
only tags it (``dlp:card``, ``dlp:iban``, ``dlp:<pattern name>``)."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.message import EmailMessage
from functools import lru_cache

from mairust.plugin_sdk import Config, HookRequest, HookResponse, Plugin, proceed, quarantine
from mairust.plugin_sdk import reject as refuse
from mairust.plugin_sdk import tag as tagged

from .detectors import card_numbers, ibans, pattern_hits

plugin = Plugin("dlp")

DEFAULT_REPLY = "550 5.7.1 Message refused by the data loss policy"
_TEXT_LIMIT = 2 * 1024 * 1024  # characters read per message: a leak sits in the text


@plugin.pre_send
def check(request: HookRequest, config: Config) -> HookResponse:
    found = findings(message_text(request), config)
    if not found:
        return proceed()
    what = ", ".join(words for _, words in found)
    tags = [f"dlp:{name}" for name, _ in found]
    action = config.get("action", "reject")
    if action == "tag":
        return tagged(*tags, reason=f"carries {what}")
    if action == "quarantine":
        return quarantine(f"carries {what}", tags=tags)
    reply = str(config.get("reply", DEFAULT_REPLY))
    return refuse(f"carries {what}"[:400], reply=f"{reply}: it carries {what}"[:512])


def findings(text: str, config: Config) -> list[tuple[str, str]]:
    """What ``text`` carries: (tag word, words for a reply) per kind found, e.g.
    ("card", "a payment card number"), ("iban", "2 IBANs"), ("secret", "text matching
    'secret'"). Counts and names only: never the matched text."""
    detect = set(config.get("detect", ["card", "iban"]))
    found: list[tuple[str, str]] = []
    if "card" in detect and (count := card_numbers(text)):
        words = "a payment card number" if count == 1 else f"{count} payment card numbers"
        found.append(("card", words))
    if "iban" in detect and (count := ibans(text)):
        found.append(("iban", "an IBAN" if count == 1 else f"{count} IBANs"))
    for name in pattern_hits(text, patterns_of(config)):
        word = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "pattern"
        found.append((word, f"text matching {name!r}"))
    return found


def message_text(request: HookRequest) -> str:
    """The Subject and every text part of the message, decoded, as one string."""
    texts = [value for name, value in request.headers or [] if name.lower() == "subject"]
    if request.body_base64:
        parsed = email.message_from_bytes(
            base64.b64decode(request.body_base64), policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        for part in parsed.walk():
            if part.get_content_maintype() != "text" or part.is_attachment():
                continue
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):  # an unknown charset: read it as Latin-1
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    texts.append(payload.decode("latin-1"))
    return "\n".join(texts)[:_TEXT_LIMIT]


def patterns_of(config: Config) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The configured patterns, compiled once per configuration."""
    items = config.get("patterns", [])
    return _compiled(tuple((str(p["name"]), str(p["pattern"])) for p in items))


@lru_cache(maxsize=8)
def _compiled(items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((name, re.compile(pattern)) for name, pattern in items)
