"""A tenant scope always names its tenant; nothing in it can mean "every tenant"."""

from __future__ import annotations

import pytest

from mairust.model.scope import PLATFORM, PlatformScope, TenantScope


def test_a_tenant_scope_without_a_tenant_is_refused() -> None:
    with pytest.raises(ValueError):
        TenantScope("")
    with pytest.raises(ValueError):
        TenantScope("t1", mailbox_id="")


def test_platform_and_tenant_scopes_are_different_types() -> None:
    assert isinstance(PLATFORM, PlatformScope)
    assert not isinstance(TenantScope("t1"), PlatformScope)
    assert TenantScope("t1", "m1").mailbox_id == "m1"
