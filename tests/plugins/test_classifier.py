"""The classifier plugin through the SDK's test helper: accuracy on a held-out set (40
messages in 4 languages, 8 per category, written apart from the training corpus and never
trained on: ``data/classifier_heldout.jsonl``) with a floor, printed with the time a message
takes; the tag and notes it answers; no tag on too little text; its scope is the text
preview only."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from mairust.hooks.manifest import load_manifest
from mairust.plugin_sdk import DataScope, HookResponse, VerdictKind, run_plugin
from plugins.classifier.model import CATEGORIES, CORPUS, load_examples, shared_model
from plugins.classifier.plugin import plugin

HERE = Path(__file__).resolve().parents[2] / "plugins" / "classifier"
HELD_OUT = Path(__file__).resolve().parent / "data" / "classifier_heldout.jsonl"
ACCURACY_FLOOR = 0.85


def mail(body: str) -> bytes:
    return (
        "From: a@remote.example\r\nSubject: (ignored)\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def run(message: bytes, **config: Any) -> HookResponse:
    return run_plugin(plugin, "post_receive", message, manifest=HERE, config=config)


def test_accuracy_on_the_held_out_set_is_above_the_floor() -> None:
    held_out = load_examples(HELD_OUT)
    training = {e.text for e in load_examples(CORPUS)}
    assert not training & {e.text for e in held_out}, "held-out examples must not be trained on"
    assert Counter(e.label for e in held_out) == {c: 8 for c in CATEGORIES}
    model = shared_model()
    started = time.perf_counter()
    predicted = [model.predict(e.text)[0] for e in held_out]
    per_message_ms = (time.perf_counter() - started) * 1000 / len(held_out)
    right = [p == e.label for p, e in zip(predicted, held_out, strict=True)]
    accuracy = sum(right) / len(held_out)
    english = [r for r, e in zip(right, held_out, strict=True) if e.lang == "en"]
    other = [r for r, e in zip(right, held_out, strict=True) if e.lang != "en"]
    wrong = [(e.label, p) for p, e in zip(predicted, held_out, strict=True) if p != e.label]
    print(
        f"\nclassifier: accuracy {accuracy:.3f} on {len(held_out)} held-out messages "
        f"(English {sum(english)}/{len(english)}, fr/de/es {sum(other)}/{len(other)}); "
        f"{per_message_ms:.2f} ms a message; wrong (label, predicted): {wrong}"
    )
    assert accuracy >= ACCURACY_FLOOR


def test_a_message_gets_its_category_tag_and_notes() -> None:
    invoice = (
        "Please find attached invoice 2207 for the April maintenance. The amount of "
        "540.00 EUR is due within 30 days by bank transfer."
    )
    answer = run(mail(invoice))
    assert answer.verdict is VerdictKind.CONTINUE
    assert answer.tags == ["category:invoice"]
    assert answer.notes["category"] == "invoice"
    assert 0.3 <= float(answer.notes["confidence"]) <= 1
    assert run(mail(invoice), tag_prefix="kind:").tags == ["kind:invoice"]
    assert run(mail(invoice), min_confidence=1.0).tags == []  # nothing is that sure


def test_an_html_only_newsletter_is_read_by_its_words() -> None:
    html = (
        "<html><head><style>.x{color:red}</style></head><body><div><h1>Autumn deals</h1>"
        "<p>New arrivals in our online shop: 30% off jackets and boots for subscribers, "
        "this weekend only.</p><p><a href='https://shop.example/u'>Unsubscribe</a> from "
        "this newsletter.</p></div></body></html>"
    )
    message = (
        "From: shop@remote.example\r\nSubject: deals\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    ).encode()
    assert run(message).tags == ["category:newsletter"]


def test_too_little_text_gets_no_tag() -> None:
    quiet = run(mail("ok, thx"))
    assert (quiet.tags, quiet.notes) == ([], {})


def test_it_is_given_the_text_preview_only() -> None:
    assert load_manifest(HERE).scopes == [DataScope.BODY_PREVIEW]
    assert load_manifest(HERE).resources.num_gpus == 0
