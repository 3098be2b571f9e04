"""Behaviour of the reference targets: each starts on a loopback port, takes the reference
load, says when it has passed everything on, counts exactly what it was sent, and stops.
The MaiRust target with checks on really checks: its stored messages carry spf, dkim and dmarc
pass. No timings."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from load.reference import ReferenceRun, Sender, write_message_file
from load.reference_targets import (
    TargetOptions,
    aiosmtpd_bare,
    all_targets,
    checks_on_config,
    postfix_durable,
    postfix_relay,
    smtp_sink,
)

RUN = ReferenceRun(messages=12, repeats=1, warmup=0, latency_messages=6, deadline=120)


@pytest.mark.parametrize("start", [smtp_sink, postfix_durable, postfix_relay])
async def test_a_counting_target_counts_exactly_what_it_accepted(start, tmp_path: Path) -> None:
    async with start(RUN, tmp_path) as endpoint:
        sender = Sender(RUN, endpoint, write_message_file(tmp_path, RUN))
        run = await sender.send(sessions=3, messages=12)
        assert (run.problem, run.accepted) == (None, 12)
        latency = await sender.latency(sessions=3)
        assert latency.accepted == 6
        assert endpoint.count is not None
        assert endpoint.count() == sender.sent == 18


@pytest.mark.parametrize("start", [postfix_durable, postfix_relay])
async def test_a_queueing_target_settles_after_passing_everything_on(start, tmp_path) -> None:
    async with start(RUN, tmp_path) as endpoint:
        sender = Sender(RUN, endpoint, write_message_file(tmp_path, RUN))
        run = await sender.send(sessions=4, messages=12)
        assert run.settled_seconds is not None and run.settled_seconds >= run.seconds
        assert endpoint.count is not None and endpoint.count() == 12


async def test_bare_aiosmtpd_accepts_and_has_nothing_behind_its_250(tmp_path: Path) -> None:
    async with aiosmtpd_bare(RUN, tmp_path) as endpoint:
        sender = Sender(RUN, endpoint, write_message_file(tmp_path, RUN))
        run = await sender.send(sessions=2, messages=5)
        assert (run.accepted, run.settled_seconds) == (5, None)
        assert endpoint.settle is None and endpoint.count is None


def test_the_checks_on_config_trusts_no_network_and_asks_the_loopback_zone() -> None:
    import tomllib

    config = tomllib.loads(checks_on_config(5353))
    assert config["auth"] == {"enabled": True, "trusted_networks": []}
    assert config["dns"] == {"nameservers": ["127.0.0.1"], "port": 5353}
    assert config["admission"] == {
        "greet_pause_seconds": 0,
        "max_connections_per_ip": 1000,
        "messages_per_minute_per_ip": 0,
    }


def test_every_target_has_a_row_name_and_production_is_last() -> None:
    targets = all_targets(TargetOptions())
    assert list(targets)[:5] == ["sink", "postfix", "postfix-relay", "aiosmtpd", "mairust"]
    assert list(targets)[-1] == "mairust-production"
    assert targets["postfix"][0] == "Postfix durable accept"
    assert targets["mairust-2fe"][0].endswith("2 front-ends)")


def api_get(endpoint_api: tuple[str, str], path: str) -> bytes:
    base, token = endpoint_api
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


@pytest.mark.e2e
async def test_mairust_with_checks_on_stores_signed_mail_that_passed_every_check(
    tmp_path: Path,
) -> None:
    _, start = all_targets(TargetOptions(startup_timeout=300))["mairust-checks"]
    async with start(RUN, tmp_path) as endpoint:
        assert endpoint.client == "smtp_load" and endpoint.mail_from == "load@sender.test"
        sender = Sender(RUN, endpoint, write_message_file(tmp_path, RUN))
        run = await sender.send(sessions=3, messages=12)
        assert (run.problem, run.accepted) == (None, 12)
        assert run.settled_seconds is not None, "settled: the queue drained"
        assert endpoint.count is not None and endpoint.count() == 12
        assert endpoint.api is not None
        page = json.loads(api_get(endpoint.api, "/api/v1/messages?limit=12"))
        assert len(page["items"]) == 12
        raw = api_get(endpoint.api, f"/api/v1/messages/{page['items'][0]['id']}/raw")
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    results = header[header.index("Authentication-Results:") :].split("\r\n", 1)[0]
    for word in ("spf=pass", "dkim=pass", "dmarc=pass"):
        assert word in header, f"{word} not in {results!r}"
