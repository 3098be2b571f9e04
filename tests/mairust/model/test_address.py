from __future__ import annotations

import pytest

from mairust.errors import InvalidInput
from mairust.model.address import domain_of, normalize_address, normalize_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice@Example.TEST", "alice@example.test"),
        ("<bob@example.test>", "bob@example.test"),
        ("  carol@example.test.  ", "carol@example.test"),
        ("josé@bücher.example", "josé@bücher.example"),
        ('"odd@local"@example.test', '"odd@local"@example.test'),
    ],
)
def test_normalize_address(raw, expected):
    assert normalize_address(raw) == expected


@pytest.mark.parametrize("raw", ["", "nodomain", "@example.test", "user@", "a b@example.test"])
def test_invalid_addresses(raw):
    with pytest.raises(InvalidInput):
        normalize_address(raw)


def test_domains():
    assert domain_of("a@b.example") == "b.example"
    assert normalize_domain("Example.TEST.") == "example.test"
    for bad in ("", "a@b", "a..b", "a b"):
        with pytest.raises(InvalidInput):
            normalize_domain(bad)


@pytest.mark.parametrize("raw", ["a\x00b@example.test", "a@exam\x07ple.test", "a\x7f@x.test"])
def test_control_characters_are_refused(raw):
    with pytest.raises(InvalidInput):
        normalize_address(raw)
