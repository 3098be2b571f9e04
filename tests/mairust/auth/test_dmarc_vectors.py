"""DMARC against tests/data/dmarc/dmarc-vectors.yml (provenance in tests/data/dmarc/SOURCES.md).

§A record parsing and §B alignment come from OpenDMARC's unit tables; §C end-to-end cases
from ValiMail's authentication-headers. §C must pass whole. Where we deliberately answer
otherwise than a table, the case is listed in ``PARSE_DIFFERENCES`` with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from authres import AuthenticationResultsHeader  # type: ignore[import-untyped]

from mairust.auth.dkim import verify_dkim
from mairust.auth.dmarc import (
    DmarcRecordError,
    aligned,
    author_domains,
    evaluate_dmarc,
    parse_record,
)
from mairust.auth.results import DkimResult, DkimWord, DmarcWord
from tests.support.dict_resolver import DictResolver

DATA = Path(__file__).parents[2] / "data" / "dmarc"
with (DATA / "dmarc-vectors.yml").open(encoding="utf-8") as _f:
    PARSE, ALIGNMENT, EVALUATION = yaml.safe_load_all(_f)
# How many cases each section holds: a lost or emptied section fails
# test_every_case_of_every_section_is_run instead of running nothing.
CASE_COUNTS = {"A-record-parse": 19, "B-alignment": 10, "C-evaluation": 11}

# case id -> (what we answer, why)
PARSE_DIFFERENCES = {
    5: (
        "error:bad_value",
        "RFC 7489 §6.3's grammar makes p= one of the full words none/quarantine/reject; "
        "OpenDMARC also takes a prefix (p=n). We stay strict: a record we misread could "
        "turn into a policy its owner never published.",
    ),
}
ALIGNMENT_DIFFERENCES: dict[int, tuple[bool, str]] = {}  # none: we agree with every case

# §C: how our reason names the record each case used (the vector's `via`, our words).
EXPECTED_VIA = {
    "dkim_aligned_pass": "p= of the author domain record at _dmarc.example.com",
    "subdomain_uses_org_sp": "sp= of the organizational domain record at _dmarc.example.net",
    "np_for_nxdomain": "np= of the organizational domain record at _dmarc.example.biz",
    "sp_for_existing_sub": "sp= of the organizational domain record at _dmarc.example.biz",
    "psd_tree_walk": "np= of the tree walk record at _dmarc.gov",
}


def _outcome(text: str) -> str:
    try:
        parse_record(text)
    except DmarcRecordError as exc:
        return f"error:{exc.kind}"
    return "ok"


@pytest.mark.parametrize("case", PARSE["cases"], ids=lambda c: f"A{c['id']}")
def test_record_parsing(case: dict[str, Any]) -> None:
    expected, _why = PARSE_DIFFERENCES.get(case["id"], (case["outcome"], ""))
    if case["id"] in PARSE_DIFFERENCES:
        assert case["outcome"] != expected, "no longer a difference: drop it from the table"
    assert _outcome(case["record"]) == expected


@pytest.mark.parametrize("case", ALIGNMENT["cases"], ids=lambda c: f"B{c['id']}")
def test_alignment(case: dict[str, Any]) -> None:
    expected, _why = ALIGNMENT_DIFFERENCES.get(case["id"], (case["aligned"], ""))
    assert aligned(case["from_domain"], case["auth_domain"], case["mode"]) is expected


def _resolver() -> tuple[DictResolver, set[str]]:
    """The §C fake DNS: "" = name exists without TXT, null = NXDOMAIN (left out), a host
    name at a plain name = that name exists (we serve it as its MX)."""
    records: dict[str, dict[str, Any]] = {}
    for name, value in EVALUATION["dns"].items():
        if value is None:
            continue
        if value == "":
            records[name] = {"TXT": []}
        elif name.startswith("_dmarc."):
            records[name] = {"TXT": [value]}
        else:
            records[name] = {"MX": [(10, value)]}
    for name, path in EVALUATION["dkim_key_files"].items():
        records[name] = {"TXT": [(DATA / path).read_text().strip()]}
    allowed = set(EVALUATION["dns"]) | set(EVALUATION["dkim_key_files"])
    return DictResolver(records), {n.lower() for n in allowed}


def _prior_dkim(prior_ar: str) -> tuple[DkimResult, ...]:
    header = AuthenticationResultsHeader.parse_value(f"{EVALUATION['authserv_id']}; {prior_ar}")
    return tuple(
        DkimResult(DkimWord(r.result), domain=r.header_d)
        for r in header.results
        if r.method == "dkim"
    )


@pytest.mark.parametrize("case", EVALUATION["cases"], ids=lambda c: c["id"])
def test_end_to_end_evaluation(case: dict[str, Any]) -> None:
    resolver, allowed_names = _resolver()
    message = (DATA / "authheaders" / case["message"]).read_bytes()
    # prior_ar: DKIM already judged upstream (see the file header); else verify it here.
    dkim = _prior_dkim(case["prior_ar"]) if "prior_ar" in case else verify_dkim(resolver, message)
    result = evaluate_dmarc(
        resolver,
        author_domains(message),
        None,
        dkim,
        sample=lambda: 0.0,
        tree_walk=bool(case.get("dmarcbis")),
    )
    assert result.result == DmarcWord(case["dmarc"]), result.reason
    if "header_from" in case:  # null: no domain could be read
        assert result.from_domain == (case["header_from"] or "")
    assert result.policy == case.get("policy", "")
    if case["id"] in EXPECTED_VIA:
        assert result.reason.startswith(EXPECTED_VIA[case["id"]]), result.reason
    asked = {name for name, _ in resolver.lookups}
    assert asked <= allowed_names, (
        f"queried names outside the vector's DNS: {asked - allowed_names}"
    )


def test_every_case_of_every_section_is_run() -> None:
    sections = (PARSE, ALIGNMENT, EVALUATION)
    counts = {s["section"]: len({c["id"] for c in s["cases"]}) for s in sections}
    assert counts == CASE_COUNTS
    assert [len(s["cases"]) for s in sections] == list(CASE_COUNTS.values())  # ids unique
    assert set(PARSE_DIFFERENCES) <= {c["id"] for c in PARSE["cases"]}
    assert set(ALIGNMENT_DIFFERENCES) <= {c["id"] for c in ALIGNMENT["cases"]}
    assert set(EXPECTED_VIA) <= {c["id"] for c in EVALUATION["cases"]}
