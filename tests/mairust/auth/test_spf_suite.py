"""The openspf RFC 7208 test suite (tests/data/spf/rfc7208-tests.yml), every case.

Each case runs through ``check_spf`` with the scenario's zonedata served by a ``DictResolver``;
every case runs a second time through the real ``CachingResolver`` against a ``ZoneServer`` on
loopback, proving the wire path (dnspython, TCP fallback, CNAMEs, timeouts) gives the same answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mairust.auth.dns_resolver import CachingResolver
from mairust.auth.spf import check_spf
from tests.support.dict_resolver import DictResolver
from tests.support.dns_server import SuiteZone, ZoneServer, records_from_suite_zonedata

SUITE = Path(__file__).parents[2] / "data" / "spf" / "rfc7208-tests.yml"
SUITE_CASE_COUNT = 203
# The explanation pyspf gives when a domain publishes no exp=; the suite expects "DEFAULT".
DEFAULT_EXPLANATION = "DEFAULT"


def _cases() -> Iterator[tuple[str, dict[str, Any], SuiteZone]]:
    with SUITE.open("rb") as stream:
        for scenario in yaml.safe_load_all(stream):
            zone = records_from_suite_zonedata(scenario["zonedata"])
            for name, case in scenario["tests"].items():
                yield name, case, zone


CASES = list(_cases())


def _acceptable(case: dict[str, Any]) -> list[str]:
    expected = case["result"]
    return [expected] if isinstance(expected, str) else list(expected)


def _run(resolver: Any, case: dict[str, Any]) -> None:
    result = check_spf(
        resolver,
        case["host"],
        case["mailfrom"],
        case["helo"],
        default_explanation=DEFAULT_EXPLANATION,
    )
    assert result.result.value in _acceptable(case), result
    if "explanation" in case:
        assert result.reason == case["explanation"]
    assert result.identity == ("mailfrom" if case["mailfrom"] else "helo")
    assert result.client_ip == case["host"]


def test_the_whole_suite_is_loaded() -> None:
    assert len(CASES) == SUITE_CASE_COUNT
    assert len({name for name, _, _ in CASES}) == SUITE_CASE_COUNT


@pytest.mark.parametrize(("name", "case", "zone"), CASES, ids=[name for name, _, _ in CASES])
def test_suite_case(name: str, case: dict[str, Any], zone: SuiteZone) -> None:
    _run(DictResolver(zone.records, temp_error_names=zone.timeout_names), case)


# Over the wire too: the suite's zone served by a ZoneServer, read by the real CachingResolver
# (a fresh cache per case). The suite's timeouts make it wait ``WIRE_TIMEOUT`` each.
WIRE_TIMEOUT = 0.5


@pytest.mark.parametrize(("name", "case", "zone"), CASES, ids=[name for name, _, _ in CASES])
def test_suite_case_over_the_wire(name: str, case: dict[str, Any], zone: SuiteZone) -> None:
    with ZoneServer(zone.records, timeout_names=zone.timeout_names) as server:
        _run(CachingResolver(["127.0.0.1"], port=server.port, timeout=WIRE_TIMEOUT), case)
