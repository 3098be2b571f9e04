"""Standard Webhooks signing against the shared vector (tests/data/webhooks): the exact
signature, every derived negative case refused, every positive case accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mairust.webhooks.signing import (
    InvalidSecret,
    SignatureInvalid,
    generate_secret,
    secret_key,
    sign,
    signed_headers,
    verify,
)

VECTORS = (
    Path(__file__).resolve().parents[2] / "data" / "webhooks" / "webhook-signature-vectors.yml"
)
SUITE: dict[str, Any] = next(yaml.safe_load_all(VECTORS.read_text()))
NEGATIVE: list[dict[str, Any]] = SUITE["negative_cases"]
POSITIVE: list[dict[str, Any]] = SUITE["positive_cases"]


def test_the_suite_is_the_one_we_vendored() -> None:
    assert SUITE["scheme"] == "standard_webhooks_v1"
    assert (len(NEGATIVE), len(POSITIVE)) == (8, 2)


def _case(case: dict[str, Any]) -> tuple[dict[str, str], bytes, int]:
    """Headers, body and 'now' of a case: the vector, with the case's changes."""
    signature = sign(
        SUITE["secret"], SUITE["msg_id"], SUITE["timestamp"], SUITE["payload"].encode()
    )
    headers = {
        "webhook-id": case.get("msg_id", SUITE["msg_id"]),
        "webhook-timestamp": str(case.get("timestamp", SUITE["timestamp"])),
        "webhook-signature": case.get("signature", signature),
    }
    return (
        headers,
        case.get("payload", SUITE["payload"]).encode(),
        case.get("now", SUITE["timestamp"]),
    )


def test_the_vector_signs_to_the_expected_signature() -> None:
    body = SUITE["payload"].encode()
    assert (
        sign(SUITE["secret"], SUITE["msg_id"], SUITE["timestamp"], body)
        == SUITE["expected_signature"]
    )
    headers = signed_headers(SUITE["secret"], SUITE["msg_id"], SUITE["timestamp"], body)
    assert headers == {
        "webhook-id": SUITE["msg_id"],
        "webhook-timestamp": str(SUITE["timestamp"]),
        "webhook-signature": SUITE["expected_signature"],
    }
    assert verify(SUITE["secret"], headers, body, now=SUITE["timestamp"]) == SUITE["msg_id"]


@pytest.mark.parametrize("case", NEGATIVE, ids=[case["name"] for case in NEGATIVE])
def test_negative_cases_are_refused(case: dict[str, Any]) -> None:
    headers, body, now = _case(case)
    with pytest.raises(SignatureInvalid):
        verify(SUITE["secret"], headers, body, now=now)


@pytest.mark.parametrize("case", POSITIVE, ids=[case["name"] for case in POSITIVE])
def test_positive_cases_pass(case: dict[str, Any]) -> None:
    headers, body, now = _case(case)
    assert verify(SUITE["secret"], headers, body, now=now) == SUITE["msg_id"]


def test_refusals_say_why() -> None:
    headers, body, now = _case({})
    with pytest.raises(SignatureInvalid, match="too old"):
        verify(SUITE["secret"], headers, body, now=now + 301)
    with pytest.raises(SignatureInvalid, match="missing"):
        verify(SUITE["secret"], {"webhook-id": "x"}, body, now=now)
    with pytest.raises(SignatureInvalid, match="whole seconds"):
        verify(SUITE["secret"], {**headers, "webhook-timestamp": "1e9"}, body, now=now)
    # Header names are case-insensitive.
    upper = {name.upper(): value for name, value in headers.items()}
    assert verify(SUITE["secret"], upper, body, now=now) == SUITE["msg_id"]


def test_secrets() -> None:
    fresh = generate_secret()
    assert fresh.startswith("whsec_") and len(secret_key(fresh)) == 32
    assert secret_key(SUITE["secret"]) == secret_key(SUITE["secret"].removeprefix("whsec_"))
    for bad in ("whsec_", "whsec_not base64!", ""):
        with pytest.raises(InvalidSecret):
            secret_key(bad)
