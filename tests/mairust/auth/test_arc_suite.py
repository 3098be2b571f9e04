"""The ValiMail ARC test suites (tests/data/arc, MIT): validation and sealing.

Validation: every one of the 171 cases runs; the suite's ``cv`` must be ours except for the
cases in ``DIFFERENCES``, each with the reason we differ. Sealing: for each signing case,
``seal_arc`` must produce the suite's ARC-Authentication-Results and the same tags in
ARC-Seal / ARC-Message-Signature (not the same ``b=``: the suite fixes a header layout of
its own), and the sealed message must validate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mairust.auth.arc import ArcSealError, seal_arc, verify_arc
from mairust.auth.headers import header_values
from mairust.auth.results import ArcWord
from tests.support.dict_resolver import DictResolver

DATA = Path(__file__).parents[2] / "data" / "arc"

# The suite expects an empty result ("no verdict": dkimpy's ``None``) when an ARC-Seal says
# cv=fail; RFC 8617 §5.2 step 2 says the chain validation status is then "fail", and
# ArcWord has no empty word. We answer "fail" in exactly these cases.
DIFFERENCES: dict[str, tuple[str, str]] = {
    "cv_fail_i1_as_cv_fail": ("fail", "newest ARC-Seal says cv=fail: RFC 8617 §5.2 => fail"),
    "cv_fail_i2_as2_fail": ("fail", "newest ARC-Seal says cv=fail: RFC 8617 §5.2 => fail"),
    "cv_fail_i2_as1_fail": ("fail", "an ARC-Seal says cv=fail: chain is fail, not empty"),
}


def _scenarios(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return list(yaml.safe_load_all(f))


def _cases(name: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(case_id, case, s) for s in _scenarios(name) for case_id, case in s["tests"].items()]


def _resolver(scenario: dict[str, Any]) -> DictResolver:
    records = scenario.get("txt-records") or {}
    return DictResolver({name: {"TXT": [text]} for name, text in records.items()})


VALIDATION = _cases("arc-draft-validation-tests.yml")
SIGNING = _cases("arc-draft-sign-tests.yml")
SIGNING_CASE_COUNT = 17  # one of them expects no new ARC set


def test_the_whole_validation_suite_is_run_and_few_cases_differ() -> None:
    ids = [case_id for case_id, _, _ in VALIDATION]
    assert len(ids) == len(set(ids)) == 171
    assert set(DIFFERENCES) <= set(ids)
    assert len(ids) - len(DIFFERENCES) >= 168


@pytest.mark.parametrize(
    ("case_id", "case", "scenario"), VALIDATION, ids=[c[0] for c in VALIDATION]
)
def test_validation_case(case_id, case, scenario) -> None:
    suite_says = str(case["cv"]).strip().lower()
    expected, why = DIFFERENCES.get(case_id, (suite_says, ""))
    if case_id in DIFFERENCES:
        assert suite_says != expected, f"{case_id} no longer differs: drop it from DIFFERENCES"
    result = verify_arc(_resolver(scenario), case["message"].encode())
    assert result.result == ArcWord(expected), (case["description"], why, result.reason)


def _tags(value: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in re.sub(r"\s+", "", value).split(";") if "=" in part)
    return {k: v for k, v in pairs}


def _aar_lines(value: str) -> list[str]:
    """The AAR's clauses, white space collapsed and comments dropped: the suite keeps
    "(1024-bit key)" but authres drops comments when dkimpy copies results (RFC 5322 CFWS,
    no meaning), which is the one way our AARs differ from the suite's."""
    text = re.sub(r"\([^()]*\)", " ", value)
    return [re.sub(r"\s+", " ", part).strip() for part in text.split(";")]


def test_the_whole_signing_suite_is_run() -> None:
    ids = [case_id for case_id, _, _ in SIGNING]
    assert len(ids) == len(set(ids)) == SIGNING_CASE_COUNT
    assert sum(1 for _, case, _ in SIGNING if not case["AS"].strip()) == 1


@pytest.mark.parametrize(("case_id", "case", "scenario"), SIGNING, ids=[c[0] for c in SIGNING])
def test_sealing_case(case_id, case, scenario) -> None:
    message = case["message"].encode()

    def seal() -> bytes:
        return seal_arc(
            message,
            selector=scenario["sel"],
            domain=scenario["domain"],
            private_key=scenario["privatekey"].encode(),
            authserv_id=case["srv-id"],
            auth_results=None,  # the suite's messages carry the sealer's results already
            timestamp=int(case["t"]),
            include_headers=case["sig-headers"].split(":"),
        )

    if not case["AS"].strip():  # the suite expects no new ARC set
        with pytest.raises(ArcSealError):
            seal()
        return
    sealed = seal() + message
    seal_value = header_values(sealed, "arc-seal")[0]
    ams_value = header_values(sealed, "arc-message-signature")[0]
    aar_value = header_values(sealed, "arc-authentication-results")[0]
    assert _aar_lines(aar_value) == _aar_lines(case["AAR"])
    expected_as, expected_ams = _tags(case["AS"]), _tags(case["AMS"])
    got_as, got_ams = _tags(seal_value), _tags(ams_value)
    for tag in ("a", "cv", "d", "i", "s", "t"):
        assert got_as[tag] == expected_as[tag], tag
    for tag in ("a", "bh", "c", "d", "h", "i", "s", "t"):
        assert got_ams[tag].lower() == expected_ams[tag].lower(), tag
    result = verify_arc(_resolver(scenario), sealed)
    expected = ArcWord.FAIL if expected_as["cv"] == "fail" else ArcWord.PASS
    assert (result.result, result.chain_length) == (expected, int(expected_as["i"])), result.reason
