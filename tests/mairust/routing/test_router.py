from __future__ import annotations

from datetime import UTC, datetime

from mairust.model.directory import Domain, Mailbox
from mairust.routing.router import (
    AliasTargets,
    LocalMailbox,
    NotLocal,
    UnknownUser,
    mailboxes_of,
    route_recipient,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class DictDirectory:
    def __init__(
        self,
        domains: list[str],
        mailboxes: list[str],
        aliases: dict[str, list[str]] | None = None,
        catchalls: dict[str, str] | None = None,
    ) -> None:
        self.domains = {d: Domain(d, "t1", NOW) for d in domains}
        self.mailboxes = {a: Mailbox(f"id-{a}", "t1", a, NOW) for a in mailboxes}
        self.aliases = aliases or {}
        self.catchalls = catchalls or {}

    def get_domain(self, name: str) -> Domain | None:
        return self.domains.get(name)

    def find_mailbox(self, address: str) -> Mailbox | None:
        return self.mailboxes.get(address)

    def alias_targets(self, address: str) -> list[Mailbox]:
        return [self.mailboxes[target] for target in self.aliases.get(address, [])]

    def catchall_mailbox(self, domain: str) -> Mailbox | None:
        target = self.catchalls.get(domain)
        return None if target is None else self.mailboxes[target]


def test_routes():
    directory = DictDirectory(["example.test"], ["alice@example.test"])
    assert route_recipient(directory, "alice@example.test") == LocalMailbox(
        directory.mailboxes["alice@example.test"]
    )
    assert route_recipient(directory, "bob@example.test") == UnknownUser("bob@example.test", "t1")
    assert route_recipient(directory, "x@elsewhere.example") == NotLocal("elsewhere.example")


def test_mailbox_wins_over_alias_and_alias_over_catchall():
    directory = DictDirectory(
        ["example.test"],
        ["alice@example.test", "bob@example.test", "sink@example.test"],
        aliases={
            "alice@example.test": ["bob@example.test"],
            "team@example.test": ["alice@example.test", "bob@example.test"],
        },
        catchalls={"example.test": "sink@example.test"},
    )
    boxes = directory.mailboxes
    assert route_recipient(directory, "alice@example.test") == LocalMailbox(
        boxes["alice@example.test"]
    )
    team = route_recipient(directory, "team@example.test")
    assert team == AliasTargets(
        "team@example.test", (boxes["alice@example.test"], boxes["bob@example.test"])
    )
    assert mailboxes_of(team) == (boxes["alice@example.test"], boxes["bob@example.test"])
    assert route_recipient(directory, "nobody@example.test") == LocalMailbox(
        boxes["sink@example.test"]
    )
    assert mailboxes_of(UnknownUser("x@example.test")) == ()


def test_an_alias_naming_a_mailbox_twice_routes_to_it_once():
    directory = DictDirectory(
        ["example.test"],
        ["alice@example.test"],
        aliases={"twice@example.test": ["alice@example.test", "alice@example.test"]},
    )
    route = route_recipient(directory, "twice@example.test")
    assert mailboxes_of(route) == (directory.mailboxes["alice@example.test"],)


def test_without_a_catchall_an_unknown_address_stays_unknown():
    directory = DictDirectory(
        ["example.test", "other.test"],
        ["sink@other.test"],
        catchalls={"other.test": "sink@other.test"},
    )
    assert route_recipient(directory, "x@example.test") == UnknownUser("x@example.test", "t1")
