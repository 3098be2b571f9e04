"""Scenario: schemathesis drives every operation of `/openapi.json` through the real Serve
ingress of a running `mairust up`, with a valid token and seeded ids.

Bounded: a few examples per operation. Every answer must be no 5xx, have a status code and
content type the schema declares, and a body that matches its schema. A fuzz that never gets
in tests nothing, so the run fails when more than 20 % of the answers are 401 or 404: the
ids in paths are real ones (a delivered message, a token), not random strings.
"""

from __future__ import annotations

import smtplib
from collections import Counter
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from tests.support.mairust_server import ADMIN_TOKEN, wait_for

EXAMPLES_PER_OPERATION = 8
MAX_REFUSED_SHARE = 0.20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def seeded_ids(base: str, headers: dict[str, str], smtp_port: int) -> dict[str, Any]:
    """Real ids for every path parameter the API has: a delivered message, a token."""
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.sendmail(
            "sender@remote.example",
            ["alice@example.test"],
            b"From: sender@remote.example\r\nTo: alice@example.test\r\n"
            b"Subject: fuzz seed\r\n\r\nhello fuzz\r\n",
        )
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:

        def delivered() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = http.get("/api/v1/messages").json()["items"]
            return items

        wait_for(lambda: delivered(), timeout=60, what="the seeded message")
        entry_id = delivered()[0]["id"]
        token = http.post(
            "/api/v1/tokens",
            json={"name": "fuzz", "permissions": ["read"], "role": "admin"},
        ).json()
    return {"entry_id": entry_id, "token_id": token["id"]}


def test_every_operation_answers_within_its_schema(new_server) -> None:
    server = new_server()
    server.start()
    server.add_user("alice@example.test")
    base = f"http://127.0.0.1:{server.api_port}"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ids = seeded_ids(base, headers, server.smtp_port)
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    statuses: Counter[int] = Counter()
    operations = []
    for result in schema.get_all_operations():
        assert not isinstance(result, Err), f"the schema does not load: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 18
    for operation in operations:
        wanted = {p.name for p in operation.iter_parameters() if p.location == "path"}
        unseeded = wanted - set(ids)
        assert not unseeded, f"{operation.label}: seed an id for {sorted(unseeded)}"
        strategy = operation.as_strategy(path_parameters={k: ids[k] for k in wanted})

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def exercise(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=base, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        exercise()
    total = sum(statuses.values())
    refused = statuses[401] + statuses[404]
    print(f"{total} calls: {dict(sorted(statuses.items()))}")
    assert total >= len(operations) * 2
    assert refused / total <= MAX_REFUSED_SHARE, f"too many 401/404: {dict(statuses)}"
    server.stop()
