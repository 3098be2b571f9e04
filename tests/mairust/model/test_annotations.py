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


def test_a_hold_remembers_the_folder_a_release_restores():
    junk = Annotations(folder="Junk", tags=("dmarc-quarantine",))
    held = junk.quarantined()
    assert held == Annotations("Quarantine", ("dmarc-quarantine",), release_folder="Junk")
    assert held.held and not junk.held
    assert held.quarantined() == held  # held twice: still the first folder
    assert held.release_to() == "Junk"
    assert Annotations().quarantined().release_to() == "INBOX"
    assert junk.release_to() == "Junk" and Annotations().release_to() == "INBOX"
    # Stored with the message: the release folder survives the round trip, and JSON
    # without one reads as before.
    assert Annotations.from_json(held.to_json()) == held
    assert "release_folder" not in junk.to_json()
