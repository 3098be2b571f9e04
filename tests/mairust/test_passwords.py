from __future__ import annotations

from mairust.passwords import hash_password, verify_password


def test_hash_and_verify():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert hash_password("correct horse") != stored  # salted


def test_garbage_hashes_do_not_verify():
    for stored in ("", "plain", "md5$x$y$z$a$b", "scrypt$1$2$3$!!$!!"):
        assert not verify_password("x", stored)
