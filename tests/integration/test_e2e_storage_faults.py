"""Scenario: production storage faults under `mairust up`, each against a private real server.

- PostgreSQL stopped for 10 s while mail arrives: only 451 4.3.0 during the outage, no
  crash; everything acknowledged before and after is delivered once; no lease stays stuck.
- S3 unreachable: 451, and nothing half-written is visible to the API or in the bucket.
- OpenSearch down: mail is still accepted and delivered; indexing catches up from the
  durable backlog when it returns.
"""

from __future__ import annotations

import re
import smtplib
import threading
import time
from pathlib import Path

from tests.integration.conftest import secrets_section
from tests.support.mairust_server import MairustServer, wait_for
from tests.support.services import unique


def config_file(base: Path, **storage: str) -> Path:
    path = base / "mairust.toml"
    lines = ["[storage]"] + [f'{key} = "{value}"' for key, value in storage.items()]
    # Retries come quickly in tests; production keeps the 30 s base.
    lines += [
        "[queue]",
        "retry_base_seconds = 1.0",
        "poll_interval = 0.5",
        "[cluster]",
        "search_backlog_interval = 1.0",
    ]
    path.write_text("\n".join(lines) + "\n" + secrets_section())
    return path


def send(server: MairustServer, n: int) -> tuple[int, str]:
    try:
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
            smtp.ehlo("faults.example")
            code, reply = smtp.mail("s@remote.example")
            if code != 250:
                return code, reply.decode()
            code, reply = smtp.rcpt("alice@example.test")
            if code != 250:
                return code, reply.decode()
            code, reply = smtp.data(f"Subject: fault {n}\r\n\r\nbody {n}\r\n".encode())
            return code, reply.decode()
    except smtplib.SMTPException as error:  # a dropped session would be a failure of the test
        return -1, repr(error)


def mailbox_ids(server: MairustServer) -> list[str]:
    with server.api() as api:
        response = api.get(
            "/api/v1/messages", params={"mailbox": "alice@example.test", "limit": 500}
        )
    assert response.status_code == 200, response.text
    return [m["message_id"] for m in response.json()["items"]]


def queued_as(reply: str) -> str:
    match = re.search(r"queued as (\S+)", reply)
    assert match, reply
    return match.group(1)


def test_postgresql_outage(new_server, service, tmp_path: Path) -> None:
    postgres = service("postgres")
    config = config_file(tmp_path, metadata=postgres.env["MAIRUST_TEST_POSTGRES_URL"])
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")

    outcomes: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def keep_sending() -> None:
        n = 0
        while not stop.is_set():
            code, reply = send(server, n)
            outcomes.append((time.monotonic(), code, reply))
            n += 1
            time.sleep(0.05)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    time.sleep(3)
    down_at = time.monotonic()
    postgres.pause()
    time.sleep(10)
    postgres.resume()
    up_at = time.monotonic()
    time.sleep(5)
    stop.set()
    sender.join(60)

    assert server.proc is not None and server.proc.poll() is None, "mairust up crashed"
    codes = {code for _, code, _ in outcomes}
    assert codes <= {250, 451}, [o for o in outcomes if o[1] not in (250, 451)][:5]
    tempfails = [reply for _, code, reply in outcomes if code == 451]
    assert tempfails and all(reply.startswith("4.3.0") for reply in tempfails)
    assert any(code == 250 and t < down_at for t, code, _ in outcomes)
    assert any(code == 250 and t > up_at for t, code, _ in outcomes)
    accepted = sorted(queued_as(reply) for _, code, reply in outcomes if code == 250)

    def all_delivered() -> bool:
        with server.api() as api:
            counts = api.get("/api/v1/queue/stats").json()["counts"]
        return counts.get("done", 0) == len(accepted) and counts.get("leased", 0) == 0

    wait_for(all_delivered, timeout=120, what="every accepted message delivered, no lease left")
    assert sorted(mailbox_ids(server)) == accepted  # each exactly once
    server.stop()


def test_s3_unreachable(new_server, service, tmp_path: Path, monkeypatch) -> None:
    s3 = service("s3")
    for key, value in s3.env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)  # mairust up inherits the credentials
    blobs = s3.env["MAIRUST_TEST_S3_URL"].replace("s3://mairust-test", f"s3://{unique('e2e')}")
    server = new_server(config=config_file(tmp_path, blobs=blobs))
    server.start()
    server.add_user("alice@example.test")
    code, reply = send(server, 1)
    assert code == 250, reply
    wait_for(lambda: mailbox_ids(server), what="delivery with S3 up")

    s3.pause()
    code, reply = send(server, 2)
    assert (code, reply[:5]) == (451, "4.3.0"), reply
    with server.api() as api:
        counts = api.get("/api/v1/queue/stats").json()["counts"]
    assert sum(counts.values()) == 1  # the refused message left no queue row
    assert len(mailbox_ids(server)) == 1

    s3.resume()
    # The bucket itself, not the data dir: the refused message left no object behind.
    assert len(server.blob_names()) == 1
    code, reply = send(server, 3)
    assert code == 250, reply
    wait_for(lambda: len(mailbox_ids(server)) == 2, what="delivery after S3 returned")
    assert len(server.blob_names()) == 2
    server.stop()


def test_opensearch_down(new_server, service, tmp_path: Path) -> None:
    opensearch = service("opensearch")
    search = opensearch.env["MAIRUST_TEST_OPENSEARCH_URL"] + f"?index={unique('e2e')}"
    server = new_server(config=config_file(tmp_path, search=search))
    server.start()
    server.add_user("alice@example.test")

    opensearch.pause()
    code, reply = send(server, 1)
    assert code == 250, reply
    message_id = queued_as(reply)
    wait_for(lambda: message_id in mailbox_ids(server), what="delivery while search is down")

    opensearch.resume()

    def found() -> bool:
        with server.api() as api:
            response = api.get("/api/v1/search", params={"q": "fault"})
        return response.status_code == 200 and len(response.json()["items"]) == 1

    wait_for(found, timeout=120, what="the backlog indexed once search returned")
    server.stop()
