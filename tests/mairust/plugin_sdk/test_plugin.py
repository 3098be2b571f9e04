"""Plugin: handlers registered per hook point by decorator, plain or async, and asked only
at the points they were registered for; a learning plugin's trainer and model loader."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mairust.plugin_sdk import (
    Config,
    HookPoint,
    HookRequest,
    HookResponse,
    NoHandler,
    Plugin,
    TrainingExample,
    VerdictKind,
    proceed,
    reject,
)
from mairust.plugin_sdk.learning import NotLearning


def request(point: HookPoint) -> HookRequest:
    return HookRequest(point=point, scopes=[])


async def test_each_decorator_registers_at_its_point() -> None:
    plugin = Plugin("p")

    @plugin.pre_receive
    def at_data(request: HookRequest, config: Config) -> HookResponse:
        return reject("data")

    @plugin.hook("rcpt_to")
    async def at_rcpt(request: HookRequest, config: Config) -> HookResponse:
        return proceed(str(config["why"]))

    assert plugin.points == {HookPoint.PRE_RECEIVE, HookPoint.RCPT_TO}
    assert (await plugin.handle(request(HookPoint.PRE_RECEIVE), {})).verdict is VerdictKind.REJECT
    answer = await plugin.handle(request(HookPoint.RCPT_TO), {"why": "fine"})
    assert (answer.verdict, answer.reason) == (VerdictKind.CONTINUE, "fine")
    # The decorators hand the function back unchanged.
    assert at_data(request(HookPoint.PRE_RECEIVE), {}).reason == "data"


@pytest.mark.parametrize("point", list(HookPoint))
def test_there_is_a_decorator_per_point(point: HookPoint) -> None:
    plugin = Plugin("p")
    getattr(plugin, point.value)(lambda request, config: proceed())
    assert plugin.points == {point}


async def test_a_point_without_a_handler_and_a_second_handler_are_errors() -> None:
    plugin = Plugin("p")
    plugin.connect(lambda request, config: proceed())
    with pytest.raises(NoHandler, match="no mail_from handler"):
        await plugin.handle(request(HookPoint.MAIL_FROM), {})
    with pytest.raises(ValueError, match="has a connect handler already"):
        plugin.connect(lambda request, config: proceed())


async def test_a_handler_must_answer_a_hook_response() -> None:
    plugin = Plugin("p")
    plugin.connect(lambda request, config: {"verdict": "reject"})  # type: ignore[type-var]
    with pytest.raises(TypeError, match="answered dict, not a HookResponse"):
        await plugin.handle(request(HookPoint.CONNECT), {})


def test_a_learning_plugin_trains_and_takes_its_state() -> None:
    plain = Plugin("plain")
    assert not plain.learns
    with pytest.raises(NotLearning):
        plain.train(None, [], {})
    plain.load_model(b"ignored")  # no loader: nothing to tell

    learner = Plugin("learner")
    taken: list[bytes | None] = []

    @learner.trainer
    def train(state: bytes | None, examples: Sequence[TrainingExample], config: Config) -> bytes:
        return (state or b"") + b"+" * len(examples)

    learner.model_loader(taken.append)
    example = TrainingExample("spam", request(HookPoint.PRE_RECEIVE))
    assert learner.learns
    assert learner.train(b"s", [example, example], {}) == b"s++"
    learner.load_model(b"s++")
    learner.load_model(None)
    assert taken == [b"s++", None]

    wrong = Plugin("wrong")
    wrong.trainer(lambda state, examples, config: "text")  # type: ignore[type-var]
    with pytest.raises(TypeError, match="no bytes"):
        wrong.train(None, [], {})
