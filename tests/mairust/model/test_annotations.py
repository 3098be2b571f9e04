from __future__ import annotations

from mairust.model.annotations import Annotations


def test_merge_keeps_tags_once_and_the_later_folder():
    first = Annotations(folder="Junk", tags=("a", "b"))
    assert first.merged(Annotations(tags=("b", "c"))) == Annotations("Junk", ("a", "b", "c"))
    assert first.merged(Annotations(folder="Promotions")).folder == "Promotions"


def test_json_round_trip():
    value = Annotations(folder="Junk", tags=("dmarc-quarantine",))
    assert Annotations.from_json(value.to_json()) == value
    assert Annotations.from_json(None) == Annotations()
    assert Annotations.from_json({}) == Annotations()
