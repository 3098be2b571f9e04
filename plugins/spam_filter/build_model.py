"""Builds the default model from the project's corpus: ``python -m plugins.spam_filter.
build_model`` writes ``model/default.npz``, the same counts on every run (the corpus is
built from a fixed seed). The model learns the corpus's training part only; the held-out
part is what the tests measure precision and recall on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from mairust.plugin_sdk import request_for

from .corpus import Sample, build_corpus, split
from .features import tokens_of
from .model import SpamModel
from .plugin import DEFAULT_MODEL

HERE = Path(__file__).resolve().parent
_log = logging.getLogger(__name__)


def sample_tokens(samples: Sequence[Sample]) -> list[list[str]]:
    """Each sample's tokens as the plugin sees it at pre_receive (its manifest's scopes)."""
    return [
        tokens_of(request_for("pre_receive", sample.message, manifest=HERE)) for sample in samples
    ]


def default_training() -> SpamModel:
    """The default model, as built from the corpus's training part."""
    training, _ = split(build_corpus())
    model = SpamModel()
    model.learn(sample_tokens(training), [sample.label for sample in training])
    return model


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    state = default_training().to_bytes()
    DEFAULT_MODEL.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_MODEL.write_bytes(state)
    _log.info("wrote %s (%d bytes)", DEFAULT_MODEL, len(state))


if __name__ == "__main__":
    main()
