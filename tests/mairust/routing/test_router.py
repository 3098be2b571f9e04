from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mairust.model.directory import Domain, Mailbox
from mairust.model.policy import DomainPolicy, RouteAction, RoutingRule
from mairust.routing.router import (
    AliasTargets,
    LocalMailbox,
    NotLocal,
    Outbound,
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
        rules: dict[str, list[tuple[str, RouteAction, str]]] | None = None,
        policy: DomainPolicy | None = None,
    ) -> None:
        self.domains = {d: Domain(d, "t1", NOW, policy or DomainPolicy()) for d in domains}
        self.mailboxes = {a: Mailbox(f"id-{a}", "t1", a, NOW) for a in mailboxes}
        self.aliases = aliases or {}
        self.catchalls = catchalls or {}
        self.rules = {
            domain: [
                RoutingRule(f"r{i}", domain, "t1", pattern, action, target, i, NOW)
                for i, (pattern, action, target) in enumerate(listed)
            ]
            for domain, listed in (rules or {}).items()
        }

    def get_domain(self, name: str) -> Domain | None:
        return self.domains.get(name)

    def find_mailbox(self, address: str) -> Mailbox | None:
        return self.mailboxes.get(address)

    def alias_targets(self, address: str) -> list[Mailbox]:
        return [self.mailboxes[target] for target in self.aliases.get(address, [])]

    def catchall_mailbox(self, domain: str) -> Mailbox | None:
        target = self.catchalls.get(domain)
        return None if target is None else self.mailboxes[target]

    def routing_rules(self, domain: str) -> list[RoutingRule]:
        return self.rules.get(domain, [])


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


def test_rules_come_after_mailboxes_and_aliases_and_before_the_catchall():
    directory = DictDirectory(
        ["example.test"],
        ["sales@example.test", "eu@example.test", "sink@example.test"],
        aliases={"sales-team@example.test": ["eu@example.test"]},
        catchalls={"example.test": "sink@example.test"},
        rules={
            "example.test": [
                ("sales-*", RouteAction.LOCAL, "sales@example.test"),
                ("*-eu", RouteAction.LOCAL, "eu@example.test"),
            ]
        },
    )
    boxes = directory.mailboxes

    def mailbox_of(address: str) -> Mailbox:
        (only,) = mailboxes_of(route_recipient(directory, address))
        return only

    assert mailbox_of("sales-de@example.test") == boxes["sales@example.test"]
    # The first matching rule decides.
    assert mailbox_of("sales-eu@example.test") == boxes["sales@example.test"]
    assert mailbox_of("ops-eu@example.test") == boxes["eu@example.test"]
    # An alias (and a mailbox) wins over a rule; an address no rule matches falls through.
    assert route_recipient(directory, "sales-team@example.test") == AliasTargets(
        "sales-team@example.test", (boxes["eu@example.test"],)
    )
    assert mailbox_of("info@example.test") == boxes["sink@example.test"]


def test_a_rule_to_a_missing_mailbox_falls_through():
    directory = DictDirectory(
        ["example.test"],
        [],
        rules={"example.test": [("*", RouteAction.LOCAL, "gone@example.test")]},
    )
    assert route_recipient(directory, "a@example.test") == UnknownUser("a@example.test", "t1")


def test_forward_and_relay_rules():
    directory = DictDirectory(
        ["example.test", "local.test"],
        ["kept@local.test"],
        aliases={"team@local.test": ["kept@local.test"]},
        rules={
            "example.test": [
                ("out", RouteAction.FORWARD, "someone@remote.example"),
                ("in", RouteAction.FORWARD, "kept@local.test"),
                ("team", RouteAction.FORWARD, "team@local.test"),
                ("nowhere", RouteAction.FORWARD, "nobody@local.test"),
                ("*", RouteAction.RELAY, "mx.inside.example:2525"),
            ],
            # A rule of the target domain is never followed by a forward: no loops.
            "local.test": [("*", RouteAction.FORWARD, "x@example.test")],
        },
    )
    kept = directory.mailboxes["kept@local.test"]
    assert route_recipient(directory, "out@example.test") == Outbound(
        "out@example.test", "t1", "someone@remote.example", None
    )
    assert route_recipient(directory, "in@example.test") == LocalMailbox(kept)
    assert mailboxes_of(route_recipient(directory, "team@example.test")) == (kept,)
    assert route_recipient(directory, "nowhere@example.test") == UnknownUser(
        "nowhere@example.test", "t1"
    )
    relayed = route_recipient(directory, "anyone@example.test")
    assert relayed == Outbound(
        "anyone@example.test", "t1", "anyone@example.test", "mx.inside.example:2525"
    )
    assert mailboxes_of(relayed) == ()


def test_a_route_carries_its_domains_own_policy():
    policy = DomainPolicy(spf="enforce", max_message_bytes=1000)
    directory = DictDirectory(
        ["example.test"],
        ["a@example.test"],
        rules={"example.test": [("*", RouteAction.RELAY, "relay.example")]},
        policy=policy,
    )
    assert route_recipient(directory, "a@example.test").policy == policy  # type: ignore[union-attr]
    assert route_recipient(directory, "b@example.test").policy == policy  # type: ignore[union-attr]


class Homes:
    """Region ``here``; every other region's relay endpoint is ``relay.<name>:587``."""

    def relay_for(self, home: str | None) -> str | None:
        if home in (None, "here"):
            return None
        if home == "gone":
            raise KeyError(home)
        return f"relay.{home}:587"


def test_a_tenant_homed_elsewhere_is_relayed_to_its_home_region():
    directory = DictDirectory(["example.test"], ["alice@example.test"])
    domain = directory.domains["example.test"]
    # Homed here: the local mailbox, as without regions.
    assert isinstance(route_recipient(directory, "alice@example.test", Homes()), LocalMailbox)
    directory.domains["example.test"] = replace(domain, home_region="here")
    assert isinstance(route_recipient(directory, "alice@example.test", Homes()), LocalMailbox)
    # Homed in b: relayed there, before the mailbox this region happens to have, and for
    # addresses this region does not know (the home region decides those).
    directory.domains["example.test"] = replace(domain, home_region="b")
    for address in ("alice@example.test", "nobody@example.test"):
        route = route_recipient(directory, address, Homes())
        assert route == Outbound(address, "t1", address, "relay.b:587", domain.policy)
    # Without a regions config the home is not read.
    assert isinstance(route_recipient(directory, "alice@example.test"), LocalMailbox)
    # A home the config does not name: delivered here rather than lost.
    directory.domains["example.test"] = replace(domain, home_region="gone")
    assert isinstance(route_recipient(directory, "alice@example.test", Homes()), LocalMailbox)
    # Not ours stays not ours.
    assert route_recipient(directory, "x@other.test", Homes()) == NotLocal("other.test")
