"""Scenario: the bundled spam filter on a running `mairust up`, retrained over the API.

Installed with the `mairust plugin` CLI (bound at pre_receive, its own Ray Serve
application), it refuses obvious spam at the end of DATA with a 550 5.7.1 and lets a club
newsletter through on its default model. The operator then trains it over the API with
those newsletters as spam (POST /api/v1/admin/plugins/spam-filter/train, message ids from
the mailbox); the platform stores the new state, rolls the plugin's replicas onto it, and
the next newsletter of that kind is refused: the verdict flips over SMTP. Embedded stores
only (plugin states on PostgreSQL are in the storage contract tests)."""

from __future__ import annotations

import re
import smtplib
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SPAM_FILTER = ROOT / "plugins" / "spam_filter"
CONFIG = """
[hooks]
bindings_cache_seconds = 0.5
deadline_seconds = 5.0
"""
SPAM = (
    "From: Winner Desk <x8k2@win-now.example>\r\nReply-To: claims@promo-center.example\r\n"
    "Subject: YOU HAVE WON!!!\r\n\r\nCongratulations! Your email was selected in our "
    "international lottery. You have won $950,000 in cash; claim your prize now at "
    "https://win-now.example/claim and send your bank account details.\r\n"
)


def newsletter(day: str) -> str:
    return (
        "From: Garden Club <news@club.example>\r\n"
        f"Subject: Tulip bulb swap on {day} at the community hall\r\n"
        f"Message-ID: <{day}@club.example>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n"
        f"Dear members,\r\n\r\nour tulip bulb swap is on {day} at the community hall. "
        "Bring your spare bulbs and seedlings.\r\n\r\nThe garden club\r\n"
    )


def send(server: Any, text: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=60) as smtp:
        smtp.ehlo("client.example")
        smtp.mail("news@club.example")
        smtp.rcpt("alice@example.test")
        code, reply = smtp.data(text.encode())
    return code, reply.decode()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_retrained_over_the_api_the_verdict_flips(
    new_server: Any, tmp_path: Path, wait_until: Any
) -> None:
    config = tmp_path / "mairust.toml"
    config.write_text(CONFIG)
    server = new_server(config=config)
    server.start()
    server.add_user("alice@example.test")
    assert "installed spam-filter 1.0.0" in ok(server.cli("plugin", "install", str(SPAM_FILTER)))
    assert "spam-filter" in ok(server.cli("hook", "list", "--point", "pre_receive"))

    # Deployed (until then its on_error lets everything in): obvious spam is refused.
    wait_until(
        lambda: send(server, SPAM)[0] == 550,
        timeout=120,
        interval=1.0,
        what="spam-filter deployed and refusing spam",
    )
    code, reply = send(server, SPAM)
    assert code == 550 and reply.startswith("5.7.1 Message refused as spam"), reply

    # The default model lets the club's newsletters through.
    queued = []
    for day in ("Saturday", "Sunday", "Friday"):
        code, reply = send(server, newsletter(day))
        assert code == 250, f"the default model refused the {day} newsletter: {reply}"
        match = re.fullmatch(r"2\.0\.0 Ok: queued as (\S+)", reply)
        assert match
        queued.append(match.group(1))

    def delivered() -> list[str]:
        with server.api() as api:
            answer = api.get("/api/v1/messages", params={"mailbox": "alice@example.test"})
        items = answer.json()["items"]
        return [m["id"] for m in items if m["message_id"] in queued]

    entries = wait_until(lambda: len(delivered()) == 3 and delivered(), what="newsletters stored")

    # Trained over the API: those newsletters are spam.
    with server.api() as api:
        trained = api.post(
            "/api/v1/admin/plugins/spam-filter/train",
            json={"examples": [{"message_id": e, "label": "spam"} for e in entries]},
        )
        assert trained.status_code == 200, trained.text
        assert (trained.json()["version"], trained.json()["examples"]) == (1, 3)
        unknown = api.post(
            "/api/v1/admin/plugins/spam-filter/train",
            json={"examples": [{"message_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "label": "spam"}]},
        )
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")

    # The replicas roll onto the new state: the next newsletter of that kind is refused.
    wait_until(
        lambda: send(server, newsletter("Wednesday"))[0] == 550,
        timeout=120,
        interval=1.0,
        what="the retrained spam-filter refusing the newsletter",
    )
    code, reply = send(server, newsletter("Thursday"))
    assert code == 550 and reply.startswith("5.7.1 Message refused as spam"), reply
