"""The summarizer plugin: after delivery (``post_receive``) it picks the message's most
telling sentences (``sentences.summarize``: its own sentence splitting and word counts,
nothing downloaded) and keeps them as the note ``summary``, which the message API shows.
A message without a text of three words or more gets no note."""

from __future__ import annotations

from mairust.plugin_sdk import Config, HookRequest, HookResponse, Plugin, plain_text, proceed

from .sentences import summarize

plugin = Plugin("summarizer")


@plugin.post_receive
def summarize_message(request: HookRequest, config: Config) -> HookResponse:
    subject = next((v for n, v in request.headers or [] if n.lower() == "subject"), "")
    summary = summarize(
        subject,
        plain_text(request.body_preview or ""),
        max_sentences=int(config.get("max_sentences", 2)),
        max_chars=int(config.get("max_chars", 400)),
    )
    return proceed("summarized", notes={"summary": summary}) if summary else proceed()
