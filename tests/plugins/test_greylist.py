"""The greylist plugin through the SDK's test helper, its state in a real metadata store
(SQLite) on a clock the test moves: a first-seen triplet gets 451 4.7.1, a retry inside the
window too, a retry after it passes (and keeps passing); the client's /24 or /64 is one
client; another sender or recipient is another triplet; an unretried triplet expires; an
authenticated client is never greylisted; without state the plugin says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.plugin_sdk import HookResponse, NoState, PluginState, VerdictKind, run_plugin
from mairust.plugin_sdk.testing import test_envelope
from mairust.storage.sql_metadata import SqlMetadataStore
from plugins.greylist.plugin import REPLY, client_network, plugin
from tests.support.sqlite_template import upgrade_to_head_for_test

HERE = Path(__file__).resolve().parents[2] / "plugins" / "greylist"
CONFIG = {"delay_seconds": 60, "expiry_seconds": 600, "pass_seconds": 3600}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlMetadataStore]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    upgrade_to_head_for_test(url)
    opened = SqlMetadataStore(url)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(store: SqlMetadataStore, clock: Clock) -> PluginState:
    return PluginState(store, "greylist", clock)


def rcpt(
    state: PluginState,
    client_ip: str = "192.0.2.10",
    sender: str = "ann@remote.test",
    recipient: str = "bob@example.test",
    authenticated_as: str | None = None,
) -> HookResponse:
    envelope = replace(
        test_envelope((recipient,)),
        client_ip=client_ip,
        mail_from=sender,
        authenticated_as=authenticated_as,
    )
    return run_plugin(
        plugin, "rcpt_to", envelope=envelope, manifest=HERE, config=CONFIG, state=state
    )


def test_first_seen_waits_a_retry_inside_the_window_waits_after_it_passes(
    state: PluginState, clock: Clock
) -> None:
    first = rcpt(state)
    assert (first.verdict, first.reply) == (VerdictKind.TEMPFAIL, REPLY)
    clock.now += 30
    assert rcpt(state).verdict is VerdictKind.TEMPFAIL
    clock.now += 31
    assert rcpt(state).verdict is VerdictKind.CONTINUE
    # Passed: it passes at once from now on, until pass_seconds.
    clock.now += 3000
    assert rcpt(state).verdict is VerdictKind.CONTINUE
    clock.now += 3601
    assert rcpt(state).verdict is VerdictKind.TEMPFAIL


def test_the_client_network_is_one_client(state: PluginState, clock: Clock) -> None:
    assert rcpt(state, client_ip="192.0.2.10").verdict is VerdictKind.TEMPFAIL
    clock.now += 61
    # A sibling in the same /24 retries: it passes.
    assert rcpt(state, client_ip="192.0.2.200").verdict is VerdictKind.CONTINUE
    assert rcpt(state, client_ip="198.51.100.1").verdict is VerdictKind.TEMPFAIL
    assert client_network("2001:db8:1:2:3::9") == "2001:db8:1:2::/64"
    assert client_network("::ffff:192.0.2.7") == "192.0.2.0/24"
    assert client_network("not-an-address") == "not-an-address"


def test_another_sender_or_recipient_is_another_triplet(state: PluginState, clock: Clock) -> None:
    assert rcpt(state).verdict is VerdictKind.TEMPFAIL
    clock.now += 61
    assert rcpt(state, sender="carl@remote.test").verdict is VerdictKind.TEMPFAIL
    assert rcpt(state, recipient="dora@example.test").verdict is VerdictKind.TEMPFAIL
    # Addresses are compared without case.
    assert rcpt(state, sender="ANN@remote.test").verdict is VerdictKind.CONTINUE


def test_a_triplet_not_retried_in_time_starts_again(state: PluginState, clock: Clock) -> None:
    assert rcpt(state).verdict is VerdictKind.TEMPFAIL
    clock.now += 601
    assert rcpt(state).verdict is VerdictKind.TEMPFAIL
    clock.now += 61
    assert rcpt(state).verdict is VerdictKind.CONTINUE


def test_an_authenticated_client_is_never_greylisted(state: PluginState) -> None:
    assert rcpt(state, authenticated_as="ann@example.test").verdict is VerdictKind.CONTINUE


def test_without_state_it_says_it_needs_the_permission() -> None:
    with pytest.raises(NoState, match="state permission"):
        run_plugin(plugin, "rcpt_to", manifest=HERE, config=CONFIG)
