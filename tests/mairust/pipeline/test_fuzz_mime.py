"""Mutated MIME from the torture corpus through edge limits → auth → spool → pipeline → API.

Hypothesis mutates the corpus messages in ``tests/data/mime`` (byte flips, truncation,
boundary damage, duplicated headers, deep nesting). Each mutant is either refused at the
edge (the header/MIME limits: an SMTP reply with an enhanced status code) or goes through
the auth checker's parse path (DKIM/ARC/DMARC over a ``DictResolver``), the spool, the
pipeline (parse → route → pre_delivery → store) and is read back through the message endpoints
in-process (summary and raw bytes, identical to what was spooled). Nothing may raise,
and nothing may be logged with a traceback.
``MAIRUST_FUZZ_EXAMPLES`` sets the number of mutants (500 in CI, derandomized).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mairust.api.app import create_app
from mairust.auth.checker import AuthChecker, SenderCheck
from mairust.config import Settings, SmtpSettings
from mairust.model.message import MessageRef
from mairust.model.queue import QueueState
from mairust.pipeline.runner import PipelineRunner
from mairust.smtp.content_limits import ContentLimits, content_refusal
from mairust.storage.stores import Stores
from tests.support.dict_resolver import DictResolver

EXAMPLES = int(os.environ.get("MAIRUST_FUZZ_EXAMPLES", "500"))
CORPUS = Path(__file__).resolve().parents[2] / "data" / "mime" / "stalwart-mail-parser"
MESSAGES = [path.read_bytes() for path in sorted(CORPUS.rglob("*.eml"))]
ADMIN_TOKEN = "fuzz-admin-token"
TOKEN_KEYS = (b"mairust-fuzz-token-digest-key-32",)
ENHANCED_REPLY = re.compile(r"[45]\d\d [45]\.\d{1,3}\.\d{1,3} .+")
BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)', re.I)
LIMITS = ContentLimits.of(SmtpSettings())
CI_PROFILE = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _flip(raw: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for position, mask in flips:
        if data:
            data[position % len(data)] ^= mask
    return bytes(data)


def _damage_boundaries(raw: bytes, replacement: bytes, every: int) -> bytes:
    """Replace every ``every``-th use of each boundary with ``replacement``."""
    for boundary in set(BOUNDARY.findall(raw)):
        pieces = raw.split(boundary)
        raw = pieces[0] + b"".join(
            (replacement if i % every == 0 else boundary) + piece
            for i, piece in enumerate(pieces[1:], 1)
        )
    return raw


def _duplicate_headers(raw: bytes, times: int) -> bytes:
    head, sep, body = (
        raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
    )
    return (head + b"\r\n") * times + head + sep + body


def _nest(raw: bytes, depth: int) -> bytes:
    for level in range(depth):
        boundary = f"nest{level}".encode()
        raw = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
            + boundary + b"\r\n" + raw + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    return b"From: fuzz@remote.test\r\nMIME-Version: 1.0\r\n" + raw


Mutation = Callable[[bytes], bytes]
MUTATION: st.SearchStrategy[Mutation] = st.one_of(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=20).map(
        lambda flips: lambda raw: _flip(raw, flips)
    ),
    st.floats(0, 1).map(lambda cut: lambda raw: raw[: int(len(raw) * cut)]),
    st.tuples(st.binary(max_size=8), st.integers(1, 3)).map(
        lambda args: lambda raw: _damage_boundaries(raw, *args)
    ),
    st.integers(1, 40).map(lambda times: lambda raw: _duplicate_headers(raw, times)),
    st.integers(1, 120).map(lambda depth: lambda raw: _nest(raw, depth)),
)
MUTANTS = st.tuples(st.sampled_from(MESSAGES), st.lists(MUTATION, min_size=1, max_size=3))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite's settings (``stores`` is built from them) with an admin token for the API."""
    # No request rate limit: three reads an example, as fast as the machine goes, would
    # meet it (a 429) on a fast machine and not on a slow one.
    api = {"admin_token": ADMIN_TOKEN, "rate_limit_per_second": 0}
    return Settings(data_dir=tmp_path, api=api)


@pytest.fixture
def api(settings: Settings, stores: Stores) -> Iterator[TestClient]:
    app = create_app(settings, stores, TOKEN_KEYS)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client


def test_mutated_corpus_messages_are_stored_and_readable_or_refused(
    settings: Settings,
    stores: Stores,
    spool_message: Callable[..., MessageRef],
    api: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    checker = AuthChecker(DictResolver({}))
    # Delivery without the search stages: they only read the parsed text the store stage
    # reads too, and would add about a third to each example's cost.
    runner = PipelineRunner(stores, settings.queue, ("parse", "route", "pre_delivery", "store"))
    counts = {"refused": 0, "stored": 0}

    @CI_PROFILE
    @given(mutant=MUTANTS)
    def fuzz(mutant: tuple[bytes, list[Mutation]]) -> None:
        raw, mutations = mutant
        for mutate in mutations:
            raw = mutate(raw)
        refusal = content_refusal(raw, LIMITS)
        if refusal is not None:
            assert ENHANCED_REPLY.fullmatch(refusal), refusal
            counts["refused"] += 1
            return
        checker.check_message(raw, SenderCheck())
        ref = spool_message(raw, "alice@example.test")
        items = stores.metadata.lease_batch("fuzz", 10, 60)
        report = runner.process(items, "fuzz")
        assert (report.delivered, report.deferred, report.failed) == (1, 0, 0), report
        listed = api.get("/api/v1/messages", params={"limit": 5})  # newest first
        assert listed.status_code == 200, listed.text
        entry = next(e for e in listed.json()["items"] if e["message_id"] == ref.id)
        detail = api.get(f"/api/v1/messages/{entry['id']}")
        assert detail.status_code == 200, detail.text
        body = api.get(f"/api/v1/messages/{entry['id']}/raw")
        assert body.status_code == 200 and body.content == raw
        counts["stored"] += 1

    fuzz()
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == [], [logging.Formatter().format(r) for r in tracebacks]
    assert stores.metadata.queue_counts().get(QueueState.DONE, 0) == counts["stored"]
    # Both ends are reached: mutants refused at the edge, and stored ones.
    assert counts["refused"] > 0 and counts["stored"] > EXAMPLES // 2, counts
