"""Scenario: kill -9 of the whole process tree right after the last 250; after a restart
every acknowledged message is in its mailbox exactly once."""

from __future__ import annotations

import re
import smtplib
import sqlite3
from concurrent.futures import ThreadPoolExecutor


def send_many(port: int, start: int, count: int) -> list[str]:
    ids = []
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo("crash.example")
        for n in range(start, start + count):
            data = f"Subject: crash {n}\r\nFrom: s@remote.example\r\n\r\nbody {n}\r\n".encode()
            smtp.mail("s@remote.example")
            smtp.rcpt("alice@example.test")
            smtp.rcpt("bob@example.test")
            code, reply = smtp.data(data)
            assert code == 250, reply
            match = re.search(rb"queued as (\S+)", reply)
            assert match, reply
            ids.append(match.group(1).decode())
    return ids


def test_acknowledged_mail_survives_kill_9(new_server, wait_until):
    server = new_server()
    server.start()
    server.add_user("alice@example.test")
    server.add_user("bob@example.test")

    with ThreadPoolExecutor(8) as pool:
        batches = pool.map(lambda s: send_many(server.smtp_port, s * 40, 40), range(8))
        acknowledged = [message_id for batch in batches for message_id in batch]
    server.kill9()

    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        undelivered = db.execute("SELECT count(*) FROM queue WHERE state != 'done'").fetchone()[0]
    print(f"{undelivered} of {2 * len(acknowledged)} queue rows were not delivered at kill -9")

    server.start()

    def all_delivered() -> bool:
        with server.api() as api:
            stats = api.get("/api/v1/queue/stats").json()["counts"]
        return (
            stats.get("done", 0) == 2 * len(acknowledged) and sum(stats.values()) == stats["done"]
        )

    wait_until(all_delivered, timeout=180, what="every queue row done after restart")
    for mailbox in ("alice@example.test", "bob@example.test"):
        seen: list[str] = []
        with server.api() as api:
            cursor = None
            while True:
                params = {"mailbox": mailbox, "limit": 500}
                if cursor:
                    params["before"] = cursor
                page = api.get("/api/v1/messages", params=params).json()
                seen += [m["message_id"] for m in page["items"]]
                cursor = page["next"]
                if not cursor:
                    break
        assert sorted(seen) == sorted(acknowledged), f"{mailbox}: not exactly once"
    server.stop()
