"""Contract tests of domain policies and routing rules in the metadata store (every backend
in conftest.METADATA_URLS): the policy read back with its domain, rules in their order,
tenant checks in the query, and the routing lookup across tenants."""

from __future__ import annotations

import pytest

from mairust.errors import Conflict, NotFound
from mairust.model.policy import NO_POLICY, DomainPolicy, RouteAction
from mairust.model.scope import PLATFORM, TenantScope
from mairust.storage.sql_metadata import SqlMetadataStore


class Two:
    def __init__(self, store: SqlMetadataStore) -> None:
        self.a = store.create_tenant("a").id
        self.b = store.create_tenant("b").id
        store.add_domain("a.test", self.a)
        store.add_domain("b.test", self.b)
        self.ann = store.add_mailbox("ann@a.test")


@pytest.fixture
def two(metadata_store: SqlMetadataStore) -> Two:
    return Two(metadata_store)


def test_a_domains_policy_is_read_back_with_the_domain(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    domain = metadata_store.get_domain("a.test")
    assert domain is not None and domain.policy == NO_POLICY
    policy = DomainPolicy(
        spf="enforce", dmarc="quarantine", max_message_bytes=1 << 33, messages_per_minute=30
    )
    metadata_store.set_domain_policy(TenantScope(two.a), "A.test", policy)
    domain = metadata_store.get_domain("a.test")
    assert domain is not None and domain.policy == policy
    listed = {d.name: d.policy for d in metadata_store.list_domains(PLATFORM)}
    assert listed == {"a.test": policy, "b.test": NO_POLICY}
    # Unset fields go back to inheriting.
    metadata_store.set_domain_policy(PLATFORM, "a.test", DomainPolicy(spf="record"))
    domain = metadata_store.get_domain("a.test")
    assert domain is not None and domain.policy == DomainPolicy(spf="record")


def test_another_tenants_domain_policy_is_a_missing_one(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    for scope in (TenantScope(two.b), TenantScope(two.a, two.ann.id)):
        with pytest.raises(NotFound):
            metadata_store.set_domain_policy(scope, "a.test", DomainPolicy(spf="enforce"))
    with pytest.raises(NotFound):
        metadata_store.set_domain_policy(PLATFORM, "nowhere.test", DomainPolicy())
    domain = metadata_store.get_domain("a.test")
    assert domain is not None and domain.policy == NO_POLICY


def test_rules_are_listed_and_routed_in_their_order(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    first = metadata_store.add_routing_rule(
        "a.test", two.a, "sales-*", RouteAction.LOCAL, "ann@a.test"
    )
    second = metadata_store.add_routing_rule(
        "a.test", two.a, "*", RouteAction.RELAY, "mx.inside.example"
    )
    early = metadata_store.add_routing_rule(
        "a.test", two.a, "vip", RouteAction.FORWARD, "boss@elsewhere.example", position=-5
    )
    assert (first.position, second.position) == (0, 10)
    assert metadata_store.routing_rules("a.test") == [early, first, second]
    assert metadata_store.list_routing_rules(TenantScope(two.a), "a.test") == [
        early,
        first,
        second,
    ]
    assert metadata_store.list_routing_rules(TenantScope(two.b), "a.test") == []
    assert metadata_store.list_routing_rules(TenantScope(two.a, two.ann.id), "a.test") == []
    assert metadata_store.routing_rules("b.test") == []


def test_rule_writes_check_the_tenant_and_the_pattern(
    metadata_store: SqlMetadataStore, two: Two
) -> None:
    with pytest.raises(NotFound):
        metadata_store.add_routing_rule("a.test", two.b, "*", RouteAction.RELAY, "x.example")
    with pytest.raises(NotFound):
        metadata_store.add_routing_rule("none.test", two.a, "*", RouteAction.RELAY, "x.example")
    rule = metadata_store.add_routing_rule("a.test", two.a, "*", RouteAction.RELAY, "x.example")
    with pytest.raises(Conflict):
        metadata_store.add_routing_rule("a.test", two.a, "*", RouteAction.LOCAL, "ann@a.test")
    with pytest.raises(NotFound):
        metadata_store.delete_routing_rule(TenantScope(two.b), "a.test", rule.id)
    with pytest.raises(NotFound):
        metadata_store.delete_routing_rule(TenantScope(two.a), "b.test", rule.id)
    assert metadata_store.routing_rules("a.test") == [rule]
    assert metadata_store.delete_routing_rule(TenantScope(two.a), "a.test", rule.id) == rule
    assert metadata_store.routing_rules("a.test") == []
    with pytest.raises(NotFound):
        metadata_store.delete_routing_rule(PLATFORM, "a.test", rule.id)
