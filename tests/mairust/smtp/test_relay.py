"""Relaying helpers: the suppression checks of a submitter's remote RCPTs, batched."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from mairust.errors import StorageUnavailable
from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.smtp.relay import SuppressionChecks

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class SuppressionList:
    """A tenant's suppressions answered as the store does (keys as the caller spelt them),
    recording each lookup; ``down`` fails them as an outage does."""

    def __init__(self, *suppressed: tuple[str, str]) -> None:
        self.entries = {
            (tenant, suppression_key(address)): Suppression(
                tenant, suppression_key(address), SuppressionReason.HARD_BOUNCE, NOW
            )
            for tenant, address in suppressed
        }
        self.lookups: list[tuple[str, list[str]]] = []
        self.down = False

    def __call__(self, tenant_id: str, addresses: Sequence[str]) -> Mapping[str, Suppression]:
        self.lookups.append((tenant_id, list(addresses)))
        if self.down:
            raise StorageUnavailable("metadata store down")
        keys = {suppression_key(address): address for address in addresses}
        return {
            address: self.entries[(tenant_id, key)]
            for key, address in keys.items()
            if (tenant_id, key) in self.entries
        }


async def test_concurrent_rcpts_of_a_tenant_are_one_lookup_each_told_its_own_answer() -> None:
    suppressions = SuppressionList(("t1", "gone@far.test"), ("t2", "ok@far.test"))
    checks = SuppressionChecks(suppressions)
    asked = [
        ("t1", "gone@far.test"),
        ("t1", "ok@far.test"),
        ("t1", "GONE@far.test"),  # another session's spelling of a suppressed address
        ("t2", "gone@far.test"),  # suppressed by t1, not by t2
        ("t1", "gone@far.test"),
    ]
    found = await asyncio.gather(*(checks.suppressed(t, a) for t, a in asked))
    assert [entry is not None for entry in found] == [True, False, True, False, True]
    assert {entry.tenant_id for entry in found if entry is not None} == {"t1"}
    # One lookup per tenant, each address asked once.
    assert sorted(suppressions.lookups) == [
        ("t1", ["gone@far.test", "ok@far.test", "GONE@far.test"]),
        ("t2", ["gone@far.test"]),
    ]


async def test_nothing_is_remembered_between_batches() -> None:
    suppressions = SuppressionList()
    checks = SuppressionChecks(suppressions)
    assert await checks.suppressed("t1", "gone@far.test") is None
    suppressions.entries[("t1", "gone@far.test")] = Suppression(
        "t1", "gone@far.test", SuppressionReason.HARD_BOUNCE, NOW
    )
    # Added since (by the delivery loop, say): the next RCPT is refused at once.
    assert await checks.suppressed("t1", "gone@far.test") is not None
    assert len(suppressions.lookups) == 2


async def test_a_list_that_cannot_be_read_fails_every_rcpt_of_the_batch() -> None:
    suppressions = SuppressionList()
    suppressions.down = True
    checks = SuppressionChecks(suppressions)
    results = await asyncio.gather(
        checks.suppressed("t1", "a@far.test"),
        checks.suppressed("t1", "b@far.test"),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [StorageUnavailable, StorageUnavailable]
    suppressions.down = False
    assert await checks.suppressed("t1", "a@far.test") is None


@pytest.mark.parametrize("address", ["Gone@Far.test", "gone@far.test"])
async def test_a_single_rcpt_is_checked_in_any_case(address: str) -> None:
    checks = SuppressionChecks(SuppressionList(("t1", "gone@far.test")))
    assert await checks.suppressed("t1", address) is not None
