"""Observability end to end without Ray: N messages through the real SMTP edge, spool and
pipeline runner, each with its own counters as its actor would hold them; the API app,
reading them through a telemetry source, shows N in ``/metrics`` and in ``/api/v1/stats``,
and answers a bad window with a problem document."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from mairust.api import create_app
from mairust.config import Settings
from mairust.passwords import hash_password
from mairust.pipeline.runner import PipelineRunner
from mairust.secrets.master_key import load_keyring
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores
from mairust.telemetry import PlatformMetrics

N = 5
ADMIN = "observability-admin-token"


def send_all(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=30) as smtp:
        for n in range(N):
            message = f"From: a@remote.example\r\nTo: jane@obs.test\r\nSubject: {n}\r\n\r\nhi\r\n"
            smtp.sendmail("a@remote.example", ["jane@obs.test"], message.encode())


def value(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_n_messages_show_as_n_in_the_metrics_and_the_stats(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        smtp={"hostname": "mx.obs.test", "port": 0, "submission_port": 0},
        admission={"greet_pause_seconds": 0},
    )
    settings.api.admin_token = SecretStr(ADMIN)
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    tenant = stores.metadata.create_tenant("obs").id
    stores.metadata.add_domain("obs.test", tenant)
    stores.metadata.add_mailbox("jane@obs.test", hash_password("pw"))
    edge, worker = PlatformMetrics(), PlatformMetrics()
    spool = Spool(stores.metadata, stores.blobs, telemetry=edge)
    await spool.start()
    frontend = SmtpFrontEnd(settings, stores.metadata, spool, telemetry=edge)
    try:
        listening = await frontend.start()
        port = next(port for name, _, port in listening if name == "smtp")
        await asyncio.to_thread(send_all, port)
    finally:
        await frontend.stop(grace_seconds=1.0)
        await spool.stop()
    runner = PipelineRunner(stores, settings.queue, telemetry=worker)
    items = stores.metadata.lease_batch("worker-0", 100, 60.0)
    assert runner.process(items, "worker-0").delivered == N

    keyring = load_keyring(settings)
    app = create_app(
        settings,
        stores,
        keyring.token_digest_keys(),
        keyring=keyring,
        telemetry=lambda: [edge.snapshot("smtp-frontend"), worker.snapshot("pipeline-worker-0")],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        text = (await http.get("/metrics")).text
        auth = {"Authorization": f"Bearer {ADMIN}"}
        stats = (await http.get("/api/v1/stats", params={"minutes": 5}, headers=auth)).json()
        bad = await http.get("/api/v1/stats", params={"minutes": 0}, headers=auth)
        anonymous = await http.get("/api/v1/stats")
    stores.close()

    edge_only = {"process": "smtp-frontend"}
    assert value(text, "mairust_spool_messages_total", result="committed", **edge_only) == N
    assert value(text, "mairust_smtp_sessions_total", listener="smtp", **edge_only) == 1
    assert value(text, "mairust_smtp_replies_total", code="354", **edge_only) == N
    assert value(text, "mairust_smtp_replies_total", code="250", enhanced="2.0.0") >= N
    assert value(text, "mairust_smtp_accept_duration_seconds_count", outcome="2xx") == N
    assert value(text, "mairust_spool_commit_duration_seconds_count", result="committed") >= 1
    assert value(text, "mairust_pipeline_rows_total", outcome="delivered") == N
    for stage in ("parse", "route", "store", "index"):
        assert value(text, "mairust_pipeline_stage_rows_total", stage=stage) == N
    assert value(text, "mairust_queue_rows", state="done") == N

    minutes = stats["minutes"]
    assert len(minutes) == 5
    assert sum(m["messages_in"] for m in minutes) == N
    assert sum(m["messages_out"] for m in minutes) == N
    assert sum(m["replies"].get("354", 0) for m in minutes) == N
    assert stats["queue_depth_now"] == 0 and minutes[-1]["queue_depth"] == 0
    # The API replica's own counters (its spool, for POST /send) are there beside them.
    api, *others = stats["processes"]
    assert api.startswith("api@") and others == ["pipeline-worker-0", "smtp-frontend"]
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
