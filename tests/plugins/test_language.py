"""The language plugin through the SDK's test helper: accuracy on a held-out multilingual
set (11 languages, 30 sentences written for this test, never seen by the model's authors;
``data/language_heldout.jsonl``) with a floor, printed; the tag and notes it answers; no
tag on too little text; the candidates narrowed by configuration; quoted text ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mairust.plugin_sdk import HookResponse, VerdictKind, run_plugin
from plugins.language.plugin import detect, plugin

HERE = Path(__file__).resolve().parents[2] / "plugins" / "language"
HELD_OUT = Path(__file__).resolve().parent / "data" / "language_heldout.jsonl"
ACCURACY_FLOOR = 0.9


def mail(body: str, subject: str = "") -> bytes:
    return (
        f"From: a@remote.example\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def run(message: bytes, **config: Any) -> HookResponse:
    return run_plugin(plugin, "post_receive", message, manifest=HERE, config=config)


def test_accuracy_on_the_held_out_set_is_above_the_floor() -> None:
    rows = [json.loads(line) for line in HELD_OUT.read_text(encoding="utf-8").splitlines()]
    wrong = []
    for row in rows:
        found = detect(row["text"], {"min_confidence": 0})
        if found is None or found[0] != row["lang"]:
            wrong.append((row["lang"], found))
    accuracy = 1 - len(wrong) / len(rows)
    languages = len({row["lang"] for row in rows})
    print(
        f"\nlanguage: accuracy {accuracy:.3f} on {len(rows)} held-out sentences in "
        f"{languages} languages; wrong: {wrong}"
    )
    assert len(rows) >= 30 and languages >= 10
    assert accuracy >= ACCURACY_FLOOR


def test_a_message_is_tagged_and_noted_with_its_language() -> None:
    body = "Bonjour Marie, la réunion est reportée à jeudi prochain. Merci de prévenir l'équipe."
    answer = run(mail(body, subject="Réunion reportée"))
    assert answer.verdict is VerdictKind.CONTINUE
    assert answer.tags == ["lang:fr"]
    assert answer.notes["language"] == "fr"
    assert float(answer.notes["confidence"]) >= 0.9
    assert run(mail(body), tag_prefix="language:").tags == ["language:fr"]


def test_too_little_text_gets_no_tag() -> None:
    quiet = run(mail("ok 👍", subject="Re:"))
    assert (quiet.tags, quiet.notes) == ([], {})


def test_quoted_text_does_not_count_and_candidates_can_be_narrowed() -> None:
    own = "Danke, das passt mir gut, wir sehen uns dann am Donnerstag im Büro!"
    quoted = "\n".join([own] + ["> " + "The meeting moves to Thursday. " * 3] * 6)
    answer = run(mail(quoted, subject="Re: Besprechung am Donnerstag"))
    assert answer.tags == ["lang:de"]
    # Narrowed to English and French, a Spanish sentence is one of those or nothing.
    spanish = "¿Podrías enviarme el informe antes de la reunión del jueves?"
    narrowed = run(mail(spanish), languages=["en", "fr"], min_confidence=0)
    assert narrowed.tags in (["lang:en"], ["lang:fr"])
