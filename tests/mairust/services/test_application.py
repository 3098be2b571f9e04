"""``Application.over`` builds every service over one set of stores, sharing one audit trail."""

from __future__ import annotations

from mairust.services.application import Application
from tests.mairust.services.conftest import ADMIN, TOKEN_KEYS


def test_services_share_the_stores_and_the_audit_trail(stores, clock):
    application = Application.over(stores, TOKEN_KEYS, clock)
    application.directory.create_domain(ADMIN, "example.test")
    # the directory's audit record is what the audit service reads
    assert [r.action for r in application.audit.page(ADMIN)] == ["domain.create"]
    assert stores.metadata.get_domain("example.test") is not None
