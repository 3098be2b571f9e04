"""Property-based SMTP sessions against one real front-end over loopback sockets.

Hypothesis writes sessions of random verbs (valid and not, any case), random arguments,
CR / LF / NUL / 8-bit bytes, long lines, pipelined bursts and disconnects in the middle of
a command or of DATA, sent from untrusted loopback addresses (127.0.0.36-127.0.0.50).
After each session: every reply line is well-formed (4xx/5xx with an enhanced status
code), a fresh connection still gets its 220 greeting, each message that got
``250 ... queued as`` is in the spool exactly once, and nothing was logged with a
traceback. ``MAIRUST_FUZZ_EXAMPLES`` sets the number of sessions (500 in CI, derandomized).
The strategies and the client are in tests/support/smtp_fuzz.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.smtp_fuzz import SESSIONS, Session, assert_well_formed, connect, play, queued_ids

if TYPE_CHECKING:
    from tests.mairust.smtp.conftest import StartMta

EXAMPLES = int(os.environ.get("MAIRUST_FUZZ_EXAMPLES", "500"))
SOURCES = [f"127.0.0.{n}" for n in range(36, 51)]


async def test_random_sessions_get_well_formed_replies_and_no_crash(
    start_mta: StartMta, caplog: pytest.LogCaptureFixture
) -> None:
    mta = await start_mta(
        auth_settings={"trusted_networks": ["127.0.0.1/32"]},
        auth_failure_delay=0,  # the AUTH tarpit would make each failing example 5 s long
        admission={
            "max_connections_per_ip": 1000,
            "messages_per_minute_per_ip": 0,
            "command_timeout_seconds": 5,
            "data_timeout_seconds": 5,
        },
    )
    loop = asyncio.get_running_loop()
    seen: set[str] = set()
    counter = iter(range(10**9))

    async def spool_ids() -> dict[str, list[str]]:
        recipients: dict[str, list[str]] = {}
        for item in mta.queued():
            recipients.setdefault(item.message.id, []).append(item.recipient)
        return recipients

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(session=SESSIONS)
    def fuzz(session: Session) -> None:
        source = SOURCES[next(counter) % len(SOURCES)]
        lines = play(mta.port, source, session)
        assert_well_formed(lines)
        queued = queued_ids(lines)
        spooled = asyncio.run_coroutine_threadsafe(spool_ids(), loop).result()
        for message_id in queued:
            assert message_id not in seen, message_id  # a queue id is never given twice
            recipients = spooled.get(message_id)
            assert recipients, message_id  # the 250 was sent for a durable message
            assert len(recipients) == len(set(recipients)), recipients  # each once
        # Not "and nothing else": a transaction complete before a disconnect is spooled
        # (its 250 unread) whenever the server gets to it, maybe during a later example.
        assert queued <= set(spooled) - seen
        seen.update(spooled)
        with connect(mta.port, source) as sock:
            assert sock.recv(512).startswith(b"220 "), "the server no longer greets"

    await asyncio.to_thread(fuzz)
    tracebacks = [
        record
        for record in caplog.records
        if record.exc_info is not None or "Traceback" in record.getMessage()
    ]
    assert tracebacks == [], [logging.Formatter().format(r) for r in tracebacks]
    assert len(seen) > EXAMPLES // 20  # the sessions did deliver messages, not only refusals
