"""``Plugin``: a plugin's handlers, one per hook point, registered with a decorator.

``@plugin.hook("pre_receive")`` and ``@plugin.pre_receive`` are the same. A handler may be
a plain function (cheap checks) or a coroutine function (one that waits on something).
A handler with a third parameter named ``state`` is given the plugin's
:class:`~mairust.plugin_sdk.state.PluginState` (its manifest declares the ``state``
permission).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from mairust.hooks.points import HookPoint
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.plugin_sdk.learning import ModelLoader, NotLearning, Trainer, TrainingExample
from mairust.plugin_sdk.state import PluginState

Config = Mapping[str, Any]
Handler = Callable[..., HookResponse | Awaitable[HookResponse]]
H = TypeVar("H", bound=Handler)
T = TypeVar("T", bound=Trainer)
L = TypeVar("L", bound=ModelLoader)


class NoHandler(LookupError):
    """The plugin was asked at a hook point it has no handler for."""


class NoState(RuntimeError):
    """A handler that keeps state was run without it (no ``state`` permission)."""


def wants_state(handler: Handler) -> bool:
    return "state" in inspect.signature(handler).parameters


class Plugin:
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: dict[HookPoint, Handler] = {}
        self._trainer: Trainer | None = None
        self._model_loader: ModelLoader | None = None

    @property
    def points(self) -> frozenset[HookPoint]:
        return frozenset(self._handlers)

    def hook(self, point: HookPoint | str) -> Callable[[H], H]:
        """Registers the decorated function as the handler at ``point``."""
        at = HookPoint(point)

        def register(handler: H) -> H:
            if at in self._handlers:
                raise ValueError(f"plugin {self.name} has a {at.value} handler already")
            self._handlers[at] = handler
            return handler

        return register

    def connect(self, handler: H) -> H:
        return self.hook(HookPoint.CONNECT)(handler)

    def mail_from(self, handler: H) -> H:
        return self.hook(HookPoint.MAIL_FROM)(handler)

    def rcpt_to(self, handler: H) -> H:
        return self.hook(HookPoint.RCPT_TO)(handler)

    def pre_receive(self, handler: H) -> H:
        return self.hook(HookPoint.PRE_RECEIVE)(handler)

    def post_receive(self, handler: H) -> H:
        return self.hook(HookPoint.POST_RECEIVE)(handler)

    def pre_delivery(self, handler: H) -> H:
        return self.hook(HookPoint.PRE_DELIVERY)(handler)

    def pre_send(self, handler: H) -> H:
        return self.hook(HookPoint.PRE_SEND)(handler)

    @property
    def keeps_state(self) -> bool:
        """Whether a handler of its takes ``state``."""
        return any(wants_state(handler) for handler in self._handlers.values())

    async def handle(
        self, request: HookRequest, config: Config, state: PluginState | None = None
    ) -> HookResponse:
        """The handler's answer for ``request`` (at its point)."""
        handler = self._handlers.get(request.point)
        if handler is None:
            raise NoHandler(f"plugin {self.name} has no {request.point.value} handler")
        if wants_state(handler):
            if state is None:
                raise NoState(
                    f"plugin {self.name} keeps state: its manifest declares the state permission"
                )
            answer = handler(request, config, state=state)
        else:
            answer = handler(request, config)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, HookResponse):
            raise TypeError(
                f"plugin {self.name}'s {request.point.value} handler answered "
                f"{type(answer).__name__}, not a HookResponse"
            )
        return answer

    # -- learning (mairust.plugin_sdk.learning) ------------------------------------------
    @property
    def learns(self) -> bool:
        return self._trainer is not None

    def trainer(self, handler: T) -> T:
        """Registers the decorated function as the plugin's trainer."""
        self._trainer = handler
        return handler

    def model_loader(self, handler: L) -> L:
        """Registers the decorated function as what takes the plugin's latest state."""
        self._model_loader = handler
        return handler

    def train(
        self, model: bytes | None, examples: Sequence[TrainingExample], config: Config
    ) -> bytes:
        """The plugin's new state after learning ``examples``; NotLearning without a
        trainer."""
        if self._trainer is None:
            raise NotLearning(f"plugin {self.name} does not learn")
        new_model = self._trainer(model, examples, config)
        if not isinstance(new_model, bytes):
            raise TypeError(f"plugin {self.name}'s trainer answered no bytes")
        return new_model

    def load_model(self, model: bytes | None) -> None:
        """Gives the plugin its latest state (nothing for a plugin without a loader)."""
        if self._model_loader is not None:
            self._model_loader(model)
