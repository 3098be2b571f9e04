"""``require``: the permission and the least role, checked before a service acts."""

from __future__ import annotations

import pytest

from mairust.errors import Forbidden
from mairust.model.principal import Permission, Principal, Role
from mairust.model.scope import TenantScope
from mairust.services.access import require


def principal(role: Role, *permissions: Permission) -> Principal:
    scope = TenantScope("t", "m" if role is Role.USER else None)
    return Principal(role, scope, frozenset(permissions), "p", "x")


@pytest.mark.parametrize("permission", list(Permission))
def test_a_missing_permission_is_forbidden(permission: Permission) -> None:
    others = set(Permission) - {permission}
    with pytest.raises(Forbidden, match=permission.value):
        require(principal(Role.TENANT_ADMIN, *others), permission)
    require(principal(Role.TENANT_ADMIN, permission), permission)


def test_a_role_below_the_least_role_is_forbidden() -> None:
    with pytest.raises(Forbidden, match="tenant_admin"):
        require(principal(Role.USER, *Permission), Permission.READ, Role.TENANT_ADMIN)
    require(principal(Role.TENANT_ADMIN, Permission.READ), Permission.READ, Role.TENANT_ADMIN)
    with pytest.raises(Forbidden, match="admin"):
        require(principal(Role.TENANT_ADMIN, *Permission), Permission.READ, Role.ADMIN)
