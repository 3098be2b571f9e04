"""KeyedBatcher: a batch per key leaves at the end of its loop turn, grows while the key's
call slots are taken, and a failing or miscounting call fails every waiter of its batch."""

from __future__ import annotations

import asyncio

import pytest

from mairust.micro_batch import KeyedBatcher


class HeldCalls:
    """Records each call's batch and answers when the test says."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.replies: list[asyncio.Future[list[int]]] = []

    async def __call__(self, key: str, requests: list[int]) -> list[int]:
        self.batches.append((key, list(requests)))
        reply: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self.replies.append(reply)
        return await reply

    def answer_all(self) -> None:
        for (_, batch), reply in zip(self.batches, self.replies, strict=True):
            if not reply.done():
                reply.set_result([n * 10 for n in batch])


async def test_one_batch_per_key_and_turn_growing_while_slots_are_taken() -> None:
    calls = HeldCalls()
    batcher: KeyedBatcher[str, int, int] = KeyedBatcher(calls, max_calls_per_key=1)
    first = [asyncio.ensure_future(batcher.submit(k, n)) for k, n in (("a", 1), ("b", 2), ("a", 3))]
    await asyncio.sleep(0.01)
    assert sorted(calls.batches) == [("a", [1, 3]), ("b", [2])]
    later = [asyncio.ensure_future(batcher.submit("a", n)) for n in (4, 5, 6)]
    await asyncio.sleep(0.01)
    assert len(calls.batches) == 2  # "a"'s one slot is out: the batch keeps filling
    calls.answer_all()
    await asyncio.sleep(0.01)
    assert calls.batches[-1] == ("a", [4, 5, 6])
    calls.answer_all()
    assert await asyncio.gather(*first, *later) == [10, 20, 30, 40, 50, 60]
    assert batcher.calls == 3


async def test_a_failed_call_fails_its_batch_and_the_next_batch_still_goes() -> None:
    attempts: list[list[int]] = []

    async def call(key: str, requests: list[int]) -> list[int]:
        attempts.append(requests)
        if len(attempts) == 1:
            raise ConnectionError("the worker is gone")
        return requests

    batcher: KeyedBatcher[str, int, int] = KeyedBatcher(call)
    failed = await asyncio.gather(
        batcher.submit("k", 1), batcher.submit("k", 2), return_exceptions=True
    )
    assert [type(e) for e in failed] == [ConnectionError, ConnectionError]
    assert await batcher.submit("k", 3) == 3


async def test_a_call_answering_the_wrong_count_fails_its_waiters() -> None:
    async def short(key: str, requests: list[int]) -> list[int]:
        return requests[:-1]

    batcher: KeyedBatcher[str, int, int] = KeyedBatcher(short)
    with pytest.raises(RuntimeError, match="answered 1 results for 2"):
        await asyncio.gather(batcher.submit("k", 1), batcher.submit("k", 2))


def test_a_batcher_needs_a_call_slot() -> None:
    with pytest.raises(ValueError):
        KeyedBatcher(HeldCalls(), max_calls_per_key=0)
