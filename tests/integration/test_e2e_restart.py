"""Scenario: Ctrl-C stops everything cleanly, and `mairust up` again finds every message."""

from __future__ import annotations

import smtplib
from typing import Any


def test_ctrl_c_then_up_again_keeps_mail(new_server, wait_until):
    server = new_server()
    server.start()
    server.add_user("alice@example.test")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.sendmail(
            "s@remote.example",
            ["alice@example.test"],
            b"Subject: before restart\r\n\r\nkept across restarts\r\n",
        )

    def listed() -> list[dict[str, Any]]:
        with server.api() as api:
            return api.get("/api/v1/messages", params={"mailbox": "alice@example.test"}).json()[
                "items"
            ]

    before = wait_until(listed, what="delivery before the restart")
    assert server.stop() == 0
    assert "MaiRust stopped." in "".join(server.output)

    server.start()
    after = listed()
    assert [m["id"] for m in after] == [m["id"] for m in before]
    with server.api() as api:
        hits = api.get("/api/v1/search", params={"q": "restarts"}).json()["items"]
    assert [h["id"] for h in hits] == [before[0]["id"]]
    assert server.stop() == 0
