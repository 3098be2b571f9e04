"""The language plugin: after delivery (``post_receive``) it identifies the language of the
message's Subject and text (quoted lines and the signature left out) with py3langid, whose
model ships inside the package, and answers the tag ``lang:<code>`` and the notes
``language`` and ``confidence``. Too little text (``min_letters``, default 20) or too
unsure an answer (``min_confidence``, default 0.6) gets no tag: no language is better
than a wrong one. ``languages`` narrows the candidates (e.g. the ones a site receives)."""

from __future__ import annotations

import re
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from mairust.plugin_sdk import (
    Config,
    HookRequest,
    HookResponse,
    Plugin,
    plain_text,
    proceed,
    tag,
)

plugin = Plugin("language")

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_QUOTED = re.compile(r"^\s*>.*$|^On .{5,200} wrote:\s*$", re.MULTILINE)


@plugin.post_receive
def identify(request: HookRequest, config: Config) -> HookResponse:
    subject = next((v for n, v in request.headers or [] if n.lower() == "subject"), "")
    found = detect(f"{subject}\n{own_text(plain_text(request.body_preview or ''))}", config)
    if found is None:
        return proceed("too little or too mixed text to tell")
    code, confidence = found
    prefix = str(config.get("tag_prefix", "lang:"))
    return tag(
        f"{prefix}{code}",
        reason=f"{code} ({confidence:.2f})",
        notes={"language": code, "confidence": f"{confidence:.2f}"},
    )


def detect(text: str, config: Config) -> tuple[str, float] | None:
    """(ISO 639 code, probability) of ``text``'s language, or None when unsure."""
    if len(_LETTER.findall(text)) < int(config.get("min_letters", 20)):
        return None
    languages = tuple(sorted(config.get("languages") or ()))
    identifier = _identifier(languages)
    code, confidence = identifier.classify(text)
    if float(confidence) < float(config.get("min_confidence", 0.6)):
        return None
    return str(code), float(confidence)


def own_text(body: str) -> str:
    """The body less quoted lines and the signature: the sender's own words."""
    body = body.split("\n-- \n", 1)[0]
    return _QUOTED.sub("", body)


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model, loaded from the package's own file once per language set."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages:
        identifier.set_languages(list(languages))
    return identifier
