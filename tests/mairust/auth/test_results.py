from __future__ import annotations

import json

from mairust.auth.results import (
    ArcResult,
    ArcWord,
    AuthResults,
    DkimResult,
    DkimWord,
    DmarcResult,
    DmarcWord,
    SpfResult,
    SpfWord,
)

FULL = AuthResults(
    spf=SpfResult(SpfWord.PASS, "mailfrom", "a.example", "192.0.2.1"),
    helo=SpfResult(SpfWord.NONE, "helo", "mx.a.example", "192.0.2.1"),
    dkim=(
        DkimResult(DkimWord.FAIL, "b.example", "s1", "rsa-sha256", "abcdefgh", "body hash"),
        DkimResult(DkimWord.PASS, "a.example", "s2", "ed25519-sha256", "ijklmnop"),
    ),
    dmarc=DmarcResult(DmarcWord.PASS, "a.example", "reject", True, True),
    arc=ArcResult(ArcWord.NONE),
)


def test_json_round_trip():
    assert AuthResults.from_json(json.loads(json.dumps(FULL.to_json()))) == FULL
    assert AuthResults.from_json(AuthResults().to_json()) == AuthResults()


def test_summary_words():
    assert FULL.summary_words() == {"spf": "pass", "dkim": "pass", "dmarc": "pass", "arc": "none"}
    failing = AuthResults(dkim=(DkimResult(DkimWord.FAIL), DkimResult(DkimWord.NONE)))
    assert failing.summary_words() == {"dkim": "fail"}
    assert AuthResults().summary_words() == {}
