"""The summarizer plugin through the SDK's test helper: on a real-looking reply (greeting,
quoted text, closing, signature) it keeps the sentences that carry the message, in their
order, as the note ``summary``; its own sentence splitter keeps abbreviations, initials and
decimals inside a sentence; a message with no text worth summarizing gets no note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mairust.plugin_sdk import HookResponse, VerdictKind, run_plugin
from plugins.summarizer.plugin import plugin
from plugins.summarizer.sentences import split_sentences, summarize

HERE = Path(__file__).resolve().parents[2] / "plugins" / "summarizer"
REPLY = """Hi Anna,

Thanks for the call yesterday. As agreed, the migration of the billing database to the
new cluster moves to Saturday 14 March. Dr. Smith will lead the migration, and the billing
team freezes all changes from Friday 6 p.m. onwards.

The weather was lovely at the office party. Please tell your customers that invoices may
arrive a day late because of the billing migration.

Best regards,
Tom

On Mon, 9 Mar 2026 at 10:02, Anna <anna@example.test> wrote:
> When is the billing database migration now? Our customers keep asking.
> The invoices go out on Monday.
--
Tom Example, Operations
"""


def mail(body: str, subject: str = "Billing database migration moved to Saturday") -> bytes:
    return (
        f"From: tom@example.test\r\nTo: anna@example.test\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body.replace(chr(10), chr(13) + chr(10))}"
    ).encode()


def run(message: bytes, **config: Any) -> HookResponse:
    return run_plugin(plugin, "post_receive", message, manifest=HERE, config=config)


def test_a_reply_is_summarized_by_its_telling_sentences_in_order() -> None:
    answer = run(mail(REPLY))
    assert answer.verdict is VerdictKind.CONTINUE and answer.tags == []
    summary = answer.notes["summary"]
    print(f"\nsummary: {summary}")
    # The date and what customers see: the sentences sharing the Subject's and the
    # message's most frequent words; the small talk, greeting, quote and signature are out.
    assert summary == (
        "As agreed, the migration of the billing database to the new cluster moves to "
        "Saturday 14 March. Please tell your customers that invoices may arrive a day late "
        "because of the billing migration."
    )
    for left_out in ("Hi Anna", "weather", "Best regards", "keep asking", "Operations"):
        assert left_out not in summary


def test_the_length_is_bounded_by_the_configuration() -> None:
    one = run(mail(REPLY), max_sentences=1).notes["summary"]
    assert one.startswith("As agreed") and one.endswith("14 March.")
    short = run(mail(REPLY), max_sentences=3, max_chars=120).notes["summary"]
    assert len(short) <= 120
    assert short == (
        "As agreed, the migration of the billing database to the new cluster moves to "
        "Saturday 14 March."
    )


def test_sentences_split_at_ends_not_at_abbreviations_initials_or_decimals() -> None:
    text = (
        "Mr. J. Doe paid 3.5 EUR, i.e. less than agreed! Was that on purpose? "
        "He said: “no.” Then he left…\n\nA new paragraph starts here"
    )
    assert split_sentences(text) == [
        "Mr. J. Doe paid 3.5 EUR, i.e. less than agreed!",
        "Was that on purpose?",
        "He said: “no.” Then he left…",
        "A new paragraph starts here",
    ]
    # A greeting on its own line is left out, even with no blank line after it.
    assert split_sentences("Hi Anna,\nThe report is late.") == ["The report is late."]


def test_other_languages_and_nothing_to_summarize() -> None:
    french = (
        "Bonjour Marie,\n\nLa réunion du comité est reportée au jeudi 12 juin. "
        "Le comité examinera le budget de la réunion annuelle. Il fait beau.\n\nCordialement,\nLuc"
    )
    summary = summarize("Réunion du comité reportée", french, max_sentences=1)
    assert summary == "La réunion du comité est reportée au jeudi 12 juin."
    assert run(mail("ok\r\n")).notes == {}
    assert run(mail("")).notes == {}


def test_an_html_only_message_is_summarized_from_its_words() -> None:
    html = (
        "<html><body><p>Dear team,</p><p>The <b>quarterly report</b> is ready and the "
        "revenue grew by 12&nbsp;percent.</p><p>The report is on the shared drive.</p>"
        "</body></html>"
    )
    message = (
        "From: cfo@example.test\r\nSubject: Quarterly report\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    ).encode()
    summary = run(message, max_sentences=1).notes["summary"]
    assert summary == "The quarterly report is ready and the revenue grew by 12\xa0percent."
