"""The spam-filter plugin through the SDK's test helpers: its default model's precision and
recall on the held-out part of the project's corpus (printed, with a floor), its verdicts
at the configured thresholds, the committed default model being what the build script
makes, and learning: a trained model flips a verdict and round-trips as data only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mairust.plugin_sdk import (
    HookResponse,
    TrainingExample,
    VerdictKind,
    request_for,
    run_plugin,
)
from plugins.spam_filter.build_model import default_training, sample_tokens
from plugins.spam_filter.corpus import SPAM, build_corpus, split
from plugins.spam_filter.model import SpamModel
from plugins.spam_filter.plugin import (
    DEFAULT_MODEL,
    REJECT_THRESHOLD,
    TAG_THRESHOLD,
    plugin,
    use_model,
)

HERE = Path(__file__).resolve().parents[2] / "plugins" / "spam_filter"
SPAMMY = (
    b"From: Winner Desk <x8k2@win-now.example>\r\nReply-To: claims@promo-center.example\r\n"
    b"Subject: YOU HAVE WON!!!\r\n\r\nCongratulations! Your email was selected in our "
    b"international lottery. You have won $950,000 in cash; claim your prize now at "
    b"https://win-now.example/claim and send your bank account details.\r\n"
)
HAMMY = (
    b"From: Anna Berg <anna@corp.example>\r\nSubject: Agenda for Monday\r\n"
    b"Message-ID: <a1@corp.example>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n"
    b"Hi Ben,\r\n\r\nI have attached the agenda and the notes from last week. Please review "
    b"the draft before the meeting; the room on the third floor is booked.\r\n\r\nAnna\r\n"
)
CLUB = (
    b"From: Garden Club <news@club.example>\r\nSubject: Tulip bulb swap at the community hall\r\n"
    b"Message-ID: <c1@club.example>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n"
    b"Dear members,\r\n\r\nour tulip bulb swap is on Saturday at the community hall. Bring "
    b"your spare bulbs and seedlings.\r\n\r\nThe garden club\r\n"
)


@pytest.fixture(autouse=True)
def default_state() -> Iterator[None]:
    """Every test starts (and leaves) the plugin on its default model."""
    use_model(None)
    yield
    use_model(None)


def run(message: bytes, **config: float) -> HookResponse:
    return run_plugin(plugin, "pre_receive", message, manifest=HERE, config=config)


def test_held_out_precision_and_recall_of_the_default_model() -> None:
    """Spam = tagged or refused at the default thresholds, on the 20 % of the corpus the
    default model never learnt from."""
    _, held_out = split(build_corpus())
    model = SpamModel.from_bytes(DEFAULT_MODEL.read_bytes())
    scores = model.scores(sample_tokens(held_out))
    truth = [sample.label == SPAM for sample in held_out]
    flagged = [score >= TAG_THRESHOLD for score in scores]
    true_pos = sum(t and f for t, f in zip(truth, flagged, strict=True))
    precision = true_pos / max(sum(flagged), 1)
    recall = true_pos / sum(truth)
    refused = sum(t and s >= REJECT_THRESHOLD for t, s in zip(truth, scores, strict=True))
    wrongly = sum(not t and s >= REJECT_THRESHOLD for t, s in zip(truth, scores, strict=True))
    print(
        f"\nspam-filter held-out: {len(held_out)} messages ({sum(truth)} spam), "
        f"precision {precision:.3f}, recall {recall:.3f} at score >= {TAG_THRESHOLD}; "
        f"refused at >= {REJECT_THRESHOLD}: {refused} spam, {wrongly} ham"
    )
    assert precision >= 0.95
    assert recall >= 0.90


def test_the_committed_default_model_is_what_the_build_script_makes() -> None:
    assert default_training().to_bytes() == DEFAULT_MODEL.read_bytes()


def test_spam_is_refused_with_a_5_7_1_and_ham_goes_on() -> None:
    refused = run(SPAMMY)
    assert refused.verdict is VerdictKind.REJECT
    assert refused.reply is not None and refused.reply.startswith("550 5.7.1 ")
    quiet = run(HAMMY)
    assert (quiet.verdict, quiet.tags, quiet.headers) == (VerdictKind.CONTINUE, [], [])
    assert quiet.reason.startswith("spam score 0.")


def test_between_the_thresholds_it_tags_spam_with_the_score() -> None:
    answer = run(SPAMMY, reject_threshold=1.0, tag_threshold=0.5)
    assert (answer.verdict, answer.tags) == (VerdictKind.CONTINUE, ["spam"])
    [header] = answer.headers
    assert header.name == "X-Spam-Score" and 0.5 <= float(header.value or "") <= 1.0
    # A tag threshold above every score: not even a tag.
    assert run(SPAMMY, reject_threshold=1.0, tag_threshold=1.0).tags == []


def example(label: str, message: bytes) -> TrainingExample:
    return TrainingExample(label, request_for("pre_receive", message, manifest=HERE))


def test_training_on_a_kind_of_message_flips_its_verdict() -> None:
    assert run(CLUB).verdict is VerdictKind.CONTINUE
    variants = [CLUB.replace(b"Saturday", day.encode()) for day in ("Sunday", "Friday", "Monday")]
    state = plugin.train(None, [example("spam", v) for v in variants], {})
    plugin.load_model(state)
    assert run(CLUB).verdict is VerdictKind.REJECT
    # Ham it knew stays ham: training adds to the corpus's counts, it does not replace them.
    assert run(HAMMY).verdict is VerdictKind.CONTINUE
    # And back: the same messages as ham, on top of that state.
    plugin.load_model(plugin.train(state, [example("ham", v) for v in variants * 3], {}))
    assert run(CLUB).verdict is VerdictKind.CONTINUE


def test_a_label_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="spam or ham"):
        plugin.train(None, [example("eggs", CLUB)], {})


def test_a_state_is_read_as_data_only() -> None:
    with pytest.raises(ValueError):
        SpamModel.from_bytes(b"not a state")
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array([object()], dtype=object))  # would need pickle
    with pytest.raises(ValueError):
        SpamModel.from_bytes(buffer.getvalue())
