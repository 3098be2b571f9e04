from __future__ import annotations

from mairust.model.ids import first_id_at, new_id


def test_ids_are_unique_sortable_and_url_safe():
    ids = [new_id(now_ms=1_700_000_000_000 + n) for n in range(1000)]
    assert len(set(ids)) == 1000
    assert ids == sorted(ids)
    assert all((len(i) == 26 and i.isalnum() and i.isupper()) or i.isdigit() for i in ids)


def test_same_millisecond_ids_differ():
    assert new_id(now_ms=5) != new_id(now_ms=5)


def test_first_id_at_sorts_below_every_id_of_that_millisecond_and_above_earlier_ones() -> None:
    at = 1_780_000_000_000
    floor = first_id_at(at)
    assert len(floor) == 26
    assert all(new_id(at - 1) < floor <= new_id(at) < first_id_at(at + 1) for _ in range(50))
