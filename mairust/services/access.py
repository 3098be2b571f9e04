"""The permission and role checks every service makes before it acts."""

from __future__ import annotations

from mairust.errors import Forbidden
from mairust.model.principal import Permission, Principal, Role, outranks_or_equals


def require(principal: Principal, permission: Permission, role: Role = Role.USER) -> None:
    """Forbidden unless ``principal`` holds ``permission`` and at least ``role``."""
    if not principal.can(permission):
        raise Forbidden(f"this token lacks the {permission.value!r} permission")
    if not outranks_or_equals(principal.role, role):
        raise Forbidden(f"this needs the {role.value!r} role or above")
