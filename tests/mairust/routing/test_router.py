from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.directory import Domain, Mailbox
from mairust.routing.router import LocalMailbox, NotLocal, UnknownUser, route_recipient

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class DictDirectory:
    def __init__(self, domains: list[str], mailboxes: list[str]) -> None:
        self.domains = {d: Domain(d, "t1", NOW) for d in domains}
        self.mailboxes = {a: Mailbox(f"id-{a}", "t1", a, NOW) for a in mailboxes}

    def get_domain(self, name: str) -> Domain | None:
        return self.domains.get(name)

    def find_mailbox(self, address: str) -> Mailbox | None:
        return self.mailboxes.get(address)


def test_routes():
    directory = DictDirectory(["example.test"], ["alice@example.test"])
    assert route_recipient(directory, "alice@example.test") == LocalMailbox(
        directory.mailboxes["alice@example.test"]
    )
    assert route_recipient(directory, "bob@example.test") == UnknownUser("bob@example.test", "t1")
    assert route_recipient(directory, "x@elsewhere.example") == NotLocal("elsewhere.example")
