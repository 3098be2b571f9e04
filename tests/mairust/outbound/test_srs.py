"""SRS: postsrsd's own test vectors, round trips, case, hashes, day stamps, SRS1, hostile input.

The vectors (secret ``tops3cr3t`` at 2020-01-01 00:01:00 UTC, domain example.com) are
postsrsd's, from its unit test ``tests/unit/test_srs2.c`` and its socketmap black-box test
``tests/blackbox/socketmap.py`` (roehling/postsrsd): the same format a Postfix site
with postsrsd makes and reverses.
"""

from __future__ import annotations

import pytest

from mairust.outbound.srs import (
    InvalidSrsAddress,
    NotSrsAddress,
    Srs,
    is_srs_address,
)
from mairust.secrets.keyring import Keyring

WHEN = 1577836860.0  # 2020-01-01 00:01:00 UTC
DAY = 86400.0


def postsrsd(now: float = WHEN) -> Srs:
    return Srs([b"tops3cr3t"], clock=lambda: now)


def test_postsrsd_forward_vectors() -> None:
    srs = postsrsd()
    assert (
        srs.forward("test@otherdomain.com", "example.com")
        == "SRS0=vmyz=2W=otherdomain.com=test@example.com"
    )
    # Another site's SRS0 becomes our SRS1; another site's SRS1 gets our hash.
    assert (
        srs.forward("SRS0=opaque+string@otherdomain.com", "example.com")
        == "SRS1=chaI=otherdomain.com==opaque+string@example.com"
    )
    assert (
        srs.forward("SRS1=X=thirddomain.com==opaque+string@otherdomain.com", "example.com")
        == "SRS1=JIBX=thirddomain.com==opaque+string@example.com"
    )


def test_postsrsd_reverse_vectors() -> None:
    srs = postsrsd()
    assert srs.reverse("SRS0=XjO9=2V=otherdomain.com=test@example.com") == "test@otherdomain.com"
    assert (
        srs.reverse("SRS1=JIBX=thirddomain.com==opaque+string@example.com")
        == "SRS0=opaque+string@thirddomain.com"
    )
    long_domain = "a" * (512 - 34) + ".net"
    assert srs.reverse(f"SRS0=iCvJ=2W={long_domain}=test@example.com") == f"test@{long_domain}"


def test_case_mangled_addresses_reverse() -> None:
    srs = postsrsd()
    lower = "srs0=xjo9=2v=otherdomain.com=test@example.com"
    upper = "SRS0=XJO9=2V=OTHERDOMAIN.COM=TEST@EXAMPLE.COM"
    assert srs.reverse(lower) == "test@otherdomain.com"
    assert srs.reverse(upper) == "TEST@OTHERDOMAIN.COM"


def test_no_rewrite_for_null_sender_our_domain_or_no_domain() -> None:
    srs = postsrsd()
    for sender in ("", "<>", "foo", "test@example.com", "Test@EXAMPLE.com"):
        assert srs.forward(sender, "example.com") == sender
    ours = "SRS0=XjO9=2V=otherdomain.com=test@example.com"
    assert srs.forward(ours, "example.com") == ours


def test_round_trip_with_keyring_secrets_and_rotation() -> None:
    old = Keyring.from_bytes(b"o" * 32)
    rotated = Keyring.from_bytes(b"n" * 32, previous=[b"o" * 32])
    made = Srs(old.srs_keys(), clock=lambda: WHEN).forward("Alice+x@Example.ORG", "fwd.test")
    assert made.startswith("SRS0=") and made.endswith("=Example.ORG=Alice+x@fwd.test")
    # After a rotation the old key still reverses what it made; a stranger's key does not.
    assert Srs(rotated.srs_keys(), clock=lambda: WHEN).reverse(made) == "Alice+x@Example.ORG"
    stranger = Srs(Keyring.from_bytes(b"s" * 32).srs_keys(), clock=lambda: WHEN)
    with pytest.raises(InvalidSrsAddress, match="wrong hash"):
        stranger.reverse(made)


def test_srs1_round_trip_returns_first_hop_address() -> None:
    srs = Srs([b"k"], clock=lambda: WHEN)
    first_hop = "SRS0=abcd=2W=orig.example=bob@hop1.example"
    ours = srs.forward(first_hop, "fwd.test")
    assert ours.startswith("SRS1=") and ours.endswith(
        "=hop1.example==abcd=2W=orig.example=bob@fwd.test"
    )
    assert srs.reverse(ours) == first_hop
    # A third hop rewrites our SRS1 with its own hash, keeping the first hop.
    third = Srs([b"other"], clock=lambda: WHEN).forward(ours, "third.test")
    assert third.endswith("=hop1.example==abcd=2W=orig.example=bob@third.test")
    assert Srs([b"other"], clock=lambda: WHEN).reverse(third) == first_hop


def test_bad_hash_refused() -> None:
    srs = postsrsd()
    for bad in (
        "SRS0=FAKE=2V=otherdomain.com=test@example.com",
        "SRS0=XjO9=2V=otherdomain.com=mallory@example.com",  # user changed
        "SRS0=XjO=2V=otherdomain.com=test@example.com",  # too short to be ours
        "SRS0=X=2V=otherdomain.com=test@example.com",
        "SRS0=XjO9X=2V=otherdomain.com=test@example.com",
        "SRS1=JIBY=thirddomain.com==opaque+string@example.com",
    ):
        with pytest.raises(InvalidSrsAddress):
            srs.reverse(bad)


def test_stale_and_future_stamps_refused() -> None:
    srs = postsrsd()
    # postsrsd's vectors: hash right, stamp six months old / six months ahead.
    with pytest.raises(InvalidSrsAddress, match="too old"):
        srs.reverse("SRS0=te87=T7=otherdomain.com=test@example.com")
    with pytest.raises(InvalidSrsAddress, match="too old"):
        srs.reverse("SRS0=VcIb=7N=otherdomain.com=test@example.com")
    made = postsrsd().forward("test@otherdomain.com", "example.com")
    assert postsrsd(WHEN + 21 * DAY).reverse(made) == "test@otherdomain.com"
    with pytest.raises(InvalidSrsAddress, match="too old"):
        postsrsd(WHEN + 22 * DAY).reverse(made)
    shorter = Srs([b"tops3cr3t"], max_age_days=3, clock=lambda: WHEN + 4 * DAY)
    with pytest.raises(InvalidSrsAddress, match="too old"):
        shorter.reverse(made)


def test_stamp_survives_the_1024_day_wrap() -> None:
    wrap = 1024 * DAY * 20 - DAY / 2  # half a day before a day number ≡ 0 (mod 1024)
    made = postsrsd(wrap).forward("a@b.example", "example.com")
    assert postsrsd(wrap + 2 * DAY).reverse(made) == "a@b.example"


@pytest.mark.parametrize(
    "hostile",
    [
        "test@example.com",
        "SRS0@example.com",
        "SRS2=XjO9=2V=otherdomain.com=test@example.com",
        "SRS0=@example.com",
        "SRS0=XjO9@example.com",
        "SRS0=XjO9=2V@example.com",
        "SRS0=XjO9=2V=otherdomain.com@example.com",
        "SRS0=XjO9==otherdomain.com=test@example.com",
        "SRS0=XjO9=2V==test@example.com",
        "SRS0=XjO9=2!=otherdomain.com=test@example.com",
        "SRS0=XjO9=2VV=otherdomain.com=test@example.com",
        "SRS0=Xj\x009=2V=otherdomain.com=test@example.com",
        "SRS0=XjO9=2V=other domain.com=test@example.com",
        "SRS0=XjO9=2V=evil@host=test@example.com",
        "SRS1=JIBX=thirddomain.com=@example.com",
        "SRS1=JIBX=thirddomain.com=x@example.com",
        "SRS1=JIBX==opaque@example.com",
        "SRS0=" + "=" * 300 + "@example.com",
        "SRS0=\u00e9\u00e9\u00e9\u00e9=2V=otherdomain.com=test@example.com",
    ],
)
def test_hostile_input_refused_never_crashes(hostile: str) -> None:
    with pytest.raises((InvalidSrsAddress, NotSrsAddress)):
        postsrsd().reverse(hostile)


def test_is_srs_address() -> None:
    assert is_srs_address("SRS0=XjO9=2V=otherdomain.com=test@example.com")
    assert is_srs_address("srs1+x@example.com")
    assert not is_srs_address("srs0@example.com")
    assert not is_srs_address("srs0x@example.com")
    assert not is_srs_address("alice@example.com")


def test_rewritten_sender_too_long_is_refused() -> None:
    with pytest.raises(InvalidSrsAddress, match="too long"):
        postsrsd().forward("test@" + "a" * 250 + ".net", "example.com")


def test_secrets_required() -> None:
    with pytest.raises(ValueError):
        Srs([])
    with pytest.raises(ValueError):
        Srs([b""])
    with pytest.raises(ValueError):
        Srs([b"k"], max_age_days=0)
