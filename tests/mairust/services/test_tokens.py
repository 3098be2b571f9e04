"""API tokens: shown once, kept as a digest, confined to their issuer's standing."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mairust.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from mairust.model.principal import Permission, Role
from mairust.model.scope import PLATFORM, TenantScope
from mairust.services.application import Application
from mairust.services.audit import AuditTrail
from mairust.services.tokens import TOKEN_PREFIX, TokenRequest, TokenService, issuing_region
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS

READ = frozenset({Permission.READ})
ALL = frozenset(Permission)


def test_a_token_authenticates_as_what_it_was_issued_for(application, tenants):
    issued = application.tokens.issue(
        ADMIN, TokenRequest("ci", READ, Role.TENANT_ADMIN, tenant_id=tenants.a.id)
    )
    assert issued.secret.startswith(TOKEN_PREFIX) and len(issued.secret) >= 40
    principal = application.tokens.authenticate(issued.secret, "10.0.0.7")
    assert principal.role is Role.TENANT_ADMIN
    assert principal.scope == TenantScope(tenants.a.id)
    assert principal.permissions == READ
    assert (principal.actor, principal.source) == (f"token:{issued.token.id}", "10.0.0.7")


def test_the_store_keeps_only_the_hmac_digest(application, stores, tenants):
    issued = application.tokens.issue(ADMIN, TokenRequest("ci", READ, Role.ADMIN))
    with stores.metadata.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM api_tokens")).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert issued.secret not in stored
    expected = hmac.new(TOKEN_KEYS[0], issued.secret.encode(), hashlib.sha256).hexdigest()
    assert expected in stored


@pytest.mark.parametrize("secret", ["", "mrt_", "mrt_wrong", "not-a-token", "x" * 500])
def test_an_unknown_token_is_unauthenticated(application, secret):
    with pytest.raises(Unauthenticated):
        application.tokens.authenticate(secret, "x")


def test_a_token_stops_at_its_expiry_and_at_revocation(application, tenants, clock):
    expiring = application.tokens.issue(
        ADMIN, TokenRequest("e", READ, Role.ADMIN, expires_at=clock.now + timedelta(minutes=5))
    )
    revoked = application.tokens.issue(ADMIN, TokenRequest("r", READ, Role.ADMIN))
    application.tokens.authenticate(expiring.secret, "x")
    clock.advance(minutes=5)
    with pytest.raises(Unauthenticated):
        application.tokens.authenticate(expiring.secret, "x")
    application.tokens.authenticate(revoked.secret, "x")
    first = application.tokens.revoke(ADMIN, revoked.token.id)
    with pytest.raises(Unauthenticated):
        application.tokens.authenticate(revoked.secret, "x")
    clock.advance(minutes=1)
    assert application.tokens.revoke(ADMIN, revoked.token.id).revoked_at == first.revoked_at


def test_a_tenant_admin_cannot_issue_above_itself_or_outside_its_tenant(application, tenants):
    admin_a = application.tokens.authenticate(
        application.tokens.issue(
            ADMIN, TokenRequest("a", ALL, Role.TENANT_ADMIN, tenant_id=tenants.a.id)
        ).secret,
        "x",
    )
    with pytest.raises(Forbidden):
        application.tokens.issue(admin_a, TokenRequest("up", READ, Role.ADMIN))
    with pytest.raises(NotFound):  # another tenant looks like no tenant
        application.tokens.issue(
            admin_a, TokenRequest("b", READ, Role.TENANT_ADMIN, tenant_id=tenants.b.id)
        )
    with pytest.raises(NotFound):  # another tenant's mailbox likewise
        application.tokens.issue(
            admin_a, TokenRequest("b", READ, Role.USER, mailbox_id=tenants.bob.id)
        )
    own = application.tokens.issue(
        admin_a, TokenRequest("alice", READ, Role.USER, mailbox_id=tenants.alice.id)
    )
    assert (own.token.tenant_id, own.token.mailbox_id) == (tenants.a.id, tenants.alice.id)


def test_no_token_holds_a_permission_its_issuer_lacks(application, tenants):
    reader = application.tokens.authenticate(
        application.tokens.issue(ADMIN, TokenRequest("r", READ, Role.ADMIN)).secret, "x"
    )
    with pytest.raises(Forbidden):  # issuing needs the admin permission
        application.tokens.issue(reader, TokenRequest("w", READ, Role.ADMIN))
    limited = application.tokens.authenticate(
        application.tokens.issue(
            ADMIN,
            TokenRequest("l", frozenset({Permission.ADMIN, Permission.READ}), Role.ADMIN),
        ).secret,
        "x",
    )
    with pytest.raises(Forbidden):
        application.tokens.issue(
            limited, TokenRequest("w", frozenset({Permission.WRITE}), Role.ADMIN)
        )


@pytest.mark.parametrize(
    "request_",
    [
        TokenRequest("none", frozenset(), Role.ADMIN),
        TokenRequest("no tenant", READ, Role.TENANT_ADMIN),
        TokenRequest(
            "ghost tenant", READ, Role.TENANT_ADMIN, tenant_id="01ARZ3NDEKTSV4RRFFQ69G5FAV"
        ),
    ],
    ids=["no permission", "no tenant", "unknown tenant"],
)
def test_a_bad_request_changes_nothing(application, stores, tenants, request_):
    with pytest.raises((InvalidInput, NotFound)):
        application.tokens.issue(ADMIN, request_)
    assert stores.metadata.list_tokens(PLATFORM) == []


def test_a_user_token_sees_and_revokes_only_its_own(application, tenants):
    alice = application.tokens.log_in("alice@a.example", "alice pw", "x")
    amos = application.tokens.log_in("amos@a.example", "amos pw", "x")
    as_alice = application.tokens.authenticate(alice.secret, "x")
    assert as_alice.scope == TenantScope(tenants.a.id, tenants.alice.id)
    assert [t.id for t in application.tokens.list_tokens(as_alice)] == [alice.token.id]
    with pytest.raises(NotFound):
        application.tokens.revoke(as_alice, amos.token.id)
    application.tokens.revoke(as_alice, alice.token.id)
    with pytest.raises(Unauthenticated):
        application.tokens.authenticate(alice.secret, "x")


def test_log_in_gives_a_short_lived_token_and_one_answer_for_every_failure(
    application, tenants, clock
):
    issued = application.tokens.log_in("Alice@A.example", "alice pw", "x")
    assert issued.token.role is Role.USER
    assert issued.token.expires_at == clock.now + timedelta(hours=1)
    answers = set()
    for address, password in [
        ("alice@a.example", "wrong"),
        ("ghost@a.example", "alice pw"),
        ("not an address", "alice pw"),
    ]:
        with pytest.raises(Unauthenticated) as refused:
            application.tokens.log_in(address, password, "x")
        answers.add(str(refused.value))
    assert len(answers) == 1


def test_last_use_is_written_at_most_once_a_minute(application, stores, tenants, clock):
    issued = application.tokens.issue(ADMIN, TokenRequest("t", READ, Role.ADMIN))
    application.tokens.authenticate(issued.secret, "x")
    first = stores.metadata.get_token(PLATFORM, issued.token.id).last_used_at
    clock.advance(seconds=30)
    application.tokens.authenticate(issued.secret, "x")
    assert stores.metadata.get_token(PLATFORM, issued.token.id).last_used_at == first
    clock.advance(seconds=31)
    application.tokens.authenticate(issued.secret, "x")
    assert stores.metadata.get_token(PLATFORM, issued.token.id).last_used_at == clock.now


def test_issue_and_revoke_are_audited(application, tenants):
    issued = application.tokens.issue(
        ADMIN, TokenRequest("ci", READ, Role.TENANT_ADMIN, tenant_id=tenants.a.id)
    )
    application.tokens.revoke(ADMIN, issued.token.id)
    records = application.audit.page(ADMIN)
    assert [(r.action, r.target, r.tenant_id, r.actor, r.source) for r in records] == [
        ("token.revoke", issued.token.id, tenants.a.id, "test-admin", "127.0.0.1"),
        ("token.create", issued.token.id, tenants.a.id, "test-admin", "127.0.0.1"),
    ]


def test_the_digest_keys_must_be_long_enough(stores):
    with pytest.raises(ValueError):
        Application.over(stores, (b"short",))
    with pytest.raises(ValueError):
        Application.over(stores, ())


def test_a_token_from_before_a_key_rotation_still_works(stores, clock, tenants):
    old_key, new_key = b"o" * 32, b"n" * 32
    before = Application.over(stores, (old_key,), clock)
    issued = before.tokens.issue(ADMIN, TokenRequest("old", READ, Role.ADMIN))
    after = Application.over(stores, (new_key, old_key), clock)
    assert after.tokens.authenticate(issued.secret, "x").role is Role.ADMIN
    fresh = after.tokens.issue(ADMIN, TokenRequest("new", READ, Role.ADMIN))
    with pytest.raises(Unauthenticated):  # the old key alone does not know new tokens
        before.tokens.authenticate(fresh.secret, "x")
    dropped = Application.over(stores, (new_key,), clock)
    with pytest.raises(Unauthenticated):  # once the old key is gone, so are its tokens
        dropped.tokens.authenticate(issued.secret, "x")


def test_a_send_token_of_the_mailbox_authenticates_its_smtp_sender(application, clock, tenants):
    send = frozenset({Permission.SEND})
    alice = application.tokens.issue(
        ADMIN, TokenRequest("smtp", send, Role.USER, tenants.a.id, tenants.alice.id)
    )
    assert application.tokens.authenticate_sender("Alice@A.example", alice.secret)
    # Another mailbox's login, a token without send, a tenant-wide token: refused.
    assert not application.tokens.authenticate_sender("amos@a.example", alice.secret)
    no_send = application.tokens.issue(
        ADMIN, TokenRequest("r", READ, Role.USER, tenants.a.id, tenants.alice.id)
    )
    assert not application.tokens.authenticate_sender("alice@a.example", no_send.secret)
    tenant_wide = application.tokens.issue(
        ADMIN, TokenRequest("t", ALL, Role.TENANT_ADMIN, tenant_id=tenants.a.id)
    )
    assert not application.tokens.authenticate_sender("alice@a.example", tenant_wide.secret)
    assert not application.tokens.authenticate_sender("alice@a.example", "alice pw")
    assert not application.tokens.authenticate_sender("not an address", alice.secret)
    expiring = application.tokens.issue(
        ADMIN,
        TokenRequest(
            "e", send, Role.USER, tenants.a.id, tenants.alice.id, clock.now + timedelta(hours=1)
        ),
    )
    assert application.tokens.authenticate_sender("alice@a.example", expiring.secret)
    clock.advance(hours=2)
    assert not application.tokens.authenticate_sender("alice@a.example", expiring.secret)
    assert application.tokens.authenticate_sender("alice@a.example", alice.secret)
    application.tokens.revoke(ADMIN, alice.token.id)
    assert not application.tokens.authenticate_sender("alice@a.example", alice.secret)


class Monotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def caching_service(stores, clock, seconds: float, ticks: Monotonic) -> TokenService:
    audit = AuditTrail(stores.metadata, clock)
    return TokenService(stores.metadata, stores.metadata, audit, TOKEN_KEYS, clock, seconds, ticks)


def test_a_token_found_recently_is_known_without_a_store_read(stores, tenants, clock):
    ticks = Monotonic()
    service = caching_service(stores, clock, 2.0, ticks)
    issued = service.issue(ADMIN, TokenRequest("n", frozenset({Permission.READ}), Role.ADMIN))
    assert service.known_principal(issued.secret, "s") is None  # never looked up yet
    looked_up = service.authenticate(issued.secret, "s")
    known = service.known_principal(issued.secret, "10.0.0.9")
    assert known is not None and known.actor == looked_up.actor and known.source == "10.0.0.9"
    assert service.known_principal("mrt_not-a-token", "s") is None
    ticks.now += 2.0
    assert service.known_principal(issued.secret, "s") is None  # forgotten: read it again
    service.authenticate(issued.secret, "s")
    # Revoked here: forgotten here at once (another process forgets it within 2 s).
    service.revoke(ADMIN, issued.token.id)
    assert service.known_principal(issued.secret, "s") is None
    with pytest.raises(Unauthenticated):
        service.authenticate(issued.secret, "s")


def test_an_expired_known_token_is_refused(stores, clock):
    service = caching_service(stores, clock, 60.0, Monotonic())
    expires = clock() + timedelta(minutes=1)
    issued = service.issue(
        ADMIN, TokenRequest("n", frozenset({Permission.READ}), Role.ADMIN, expires_at=expires)
    )
    service.authenticate(issued.secret, "s")
    clock.advance(minutes=2)
    with pytest.raises(Unauthenticated):
        service.known_principal(issued.secret, "s")


def test_without_a_cache_nothing_is_known(stores, clock):
    service = caching_service(stores, clock, 0.0, Monotonic())
    issued = service.issue(ADMIN, TokenRequest("n", frozenset({Permission.READ}), Role.ADMIN))
    service.authenticate(issued.secret, "s")
    assert service.known_principal(issued.secret, "s") is None


def test_a_region_s_tokens_carry_its_name_and_work_there(stores, tenants):
    tokens = TokenService(
        stores.metadata, stores.metadata, AuditTrail(stores.metadata), TOKEN_KEYS, region="eu-1"
    )
    issued = tokens.issue(ADMIN, TokenRequest("ci", READ, Role.TENANT_ADMIN, tenants.a.id))
    assert issued.secret.startswith("mrt_eu-1_") and len(issued.secret) >= 48
    assert issuing_region(issued.secret) == "eu-1"
    assert tokens.authenticate(issued.secret, "x").scope == TenantScope(tenants.a.id)
    login = tokens.log_in("alice@a.example", "alice pw", "x")
    assert issuing_region(login.secret) == "eu-1"
    # The region is part of the secret: naming another one makes the token unknown.
    with pytest.raises(Unauthenticated):
        tokens.authenticate(issued.secret.replace("mrt_eu-1_", "mrt_eu-2_", 1), "x")


@pytest.mark.parametrize(
    ("secret", "region"),
    [
        ("mrt_us-east_Zm9v", "us-east"),
        ("mrt_b_x", "b"),
        ("mrt_Zm9vYmFy", None),  # a single region's token: no "_" after a name
        ("mrt_US_x", None),  # region names are lower case
        ("mrt_-b_x", None),
        ("mrt_b_", None),  # nothing after the region
        ("Bearer mrt_b_x", None),
        ("", None),
    ],
)
def test_the_issuing_region_is_read_from_the_form_alone(secret, region):
    assert issuing_region(secret) == region
