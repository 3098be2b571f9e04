"""actors/named: a peer reached by name — pickled as its name, looked up on first use."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import ray

from actors.named import NamedActor


class EchoHost:
    def echo(self, value: str) -> str:
        return value


class CallerHost:
    """An actor that restarts and holds a peer, as the dispatcher holds its workers."""

    def __init__(self, peer: NamedActor) -> None:
        self._peer = peer

    async def ask(self, value: str) -> str:
        answer: str = await self._peer.echo.remote(value)
        return answer


Echo = ray.remote(num_cpus=0)(EchoHost)
Caller = ray.remote(num_cpus=0, max_restarts=-1)(CallerHost)


def test_pickles_as_its_name_only():
    peer = NamedActor("pipeline-worker-0", namespace="space")
    copy = pickle.loads(pickle.dumps(peer))
    assert (copy.name, copy.namespace) == ("pipeline-worker-0", "space")
    assert pickle.dumps(peer) == pickle.dumps(NamedActor("pipeline-worker-0", "space"))


def test_private_names_are_not_remote_methods():
    with pytest.raises(AttributeError):
        NamedActor("never-looked-up")._anything  # noqa: B018  (no Ray lookup for these)


def test_an_actor_reaches_its_peer_by_name(ray_cluster):
    echo: Any = Echo.options(name="named-echo").remote()
    caller: Any = Caller.remote(NamedActor("named-echo"))
    assert ray.get(caller.ask.remote("hello"), timeout=60) == "hello"
    ray.kill(caller)
    ray.kill(echo)


def test_an_unknown_name_fails_at_first_use(ray_cluster):
    with pytest.raises(ValueError):
        NamedActor("no-such-actor").echo  # noqa: B018
