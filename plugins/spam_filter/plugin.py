"""The spam-filter plugin: scores each message at the end of DATA with its naive Bayes
model and rejects (above ``reject_threshold``), tags ``spam`` with the score in an
``X-Spam-Score`` header field (above ``tag_threshold``) or says nothing.

It learns: the platform trains it over the API and from quarantine releases (``trainer``)
and gives every replica the latest trained model (``model_loader``); before any training
it uses the default model built from the project's corpus (``model/default.npz``, made
by ``python -m plugins.spam_filter.build_model``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from mairust.plugin_sdk import (
    Config,
    HookRequest,
    HookResponse,
    Plugin,
    TrainingExample,
    add_header,
    proceed,
    reject,
    tag,
)

from .features import tokens_of
from .model import SpamModel

DEFAULT_MODEL = Path(__file__).resolve().parent / "model" / "default.npz"
REJECT_THRESHOLD = 0.9
TAG_THRESHOLD = 0.6
# An operator's example counts as this many corpus messages (its configuration may say).
TRAIN_WEIGHT = 20.0

plugin = Plugin("spam-filter")
_lock = threading.Lock()
_current: SpamModel | None = None


def default_model() -> SpamModel:
    return SpamModel.from_bytes(DEFAULT_MODEL.read_bytes())


def current_model() -> SpamModel:
    """The model in use: the latest state the platform gave, else the default."""
    global _current
    with _lock:
        if _current is None:
            _current = default_model()
        return _current


@plugin.model_loader
def use_model(state: bytes | None) -> None:
    global _current
    model = SpamModel.from_bytes(state) if state is not None else default_model()
    with _lock:
        _current = model


@plugin.pre_receive
def check(request: HookRequest, config: Config) -> HookResponse:
    score = current_model().scores([tokens_of(request)])[0]
    figure = f"{score:.3f}"
    if score >= float(config.get("reject_threshold", REJECT_THRESHOLD)):
        return reject(
            f"spam score {figure}", reply=f"550 5.7.1 Message refused as spam (score {figure})"
        )
    if score >= float(config.get("tag_threshold", TAG_THRESHOLD)):
        return tag(
            "spam", reason=f"spam score {figure}", headers=[add_header("X-Spam-Score", figure)]
        )
    return proceed(f"spam score {figure}")


@plugin.trainer
def train(state: bytes | None, examples: Sequence[TrainingExample], config: Config) -> bytes:
    model = SpamModel.from_bytes(state) if state is not None else default_model()
    weight = float(config.get("train_weight", TRAIN_WEIGHT))
    model.learn([tokens_of(e.request) for e in examples], [e.label for e in examples], weight)
    return model.to_bytes()
