"""The classifier plugin: after delivery (``post_receive``) it gives the message's text
preview (its only scope: no header, no sender; an HTML preview as its visible words) to
the category model (``model``) and answers the tag ``category:<name>`` and the notes
``category`` and ``confidence``. A preview with too few letters (``min_letters``, default
20) or an answer below ``min_confidence`` (default 0.3; among five categories 0.2 is a
guess) gets no tag."""

from __future__ import annotations

import re

from mairust.plugin_sdk import (
    Config,
    HookRequest,
    HookResponse,
    Plugin,
    plain_text,
    proceed,
    tag,
)

from .model import shared_model

plugin = Plugin("classifier")

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@plugin.post_receive
def classify(request: HookRequest, config: Config) -> HookResponse:
    found = categorize(plain_text(request.body_preview or ""), config)
    if found is None:
        return proceed("too little text, or no category stands out")
    category, confidence = found
    prefix = str(config.get("tag_prefix", "category:"))
    return tag(
        f"{prefix}{category}",
        reason=f"{category} ({confidence:.2f})",
        notes={"category": category, "confidence": f"{confidence:.2f}"},
    )


def categorize(text: str, config: Config) -> tuple[str, float] | None:
    """(category, probability) of ``text``, or None when unsure or too short."""
    if len(_LETTER.findall(text)) < int(config.get("min_letters", 20)):
        return None
    category, confidence = shared_model().predict(text)
    if confidence < float(config.get("min_confidence", 0.3)):
        return None
    return category, confidence
