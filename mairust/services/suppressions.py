"""Each tenant's suppression list as tenant admins and the operator see it: list, add,
remove, import; and the check sending makes (a suppressed recipient is refused with the
reason it was suppressed for).

A tenant admin works on its own tenant's list only (the tenant is put in the query, never
taken from the caller); the platform admin names the tenant (``tenant_id``) to change a
list and may list every tenant's. Hard bounces and complaints are added by the delivery
loop and the report intake in their own transactions, not here. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mairust.errors import InvalidInput, NotFound
from mairust.model.address import normalize_address
from mairust.model.principal import Permission, Principal, Role
from mairust.model.suppression import Suppression, SuppressionReason, suppression_key
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.storage.protocols import SuppressionStore

MAX_IMPORT = 100_000


@dataclass(frozen=True, slots=True)
class Imported:
    added: int
    already: int


class RecipientsSuppressed(InvalidInput):
    """Recipients on the sending tenant's suppression list (a 422; nothing was sent)."""

    def __init__(self, suppressed: dict[str, Suppression]) -> None:
        self.suppressed = suppressed
        named = ", ".join(f"{a} ({s.reason.value})" for a, s in sorted(suppressed.items()))
        super().__init__(
            f"recipients on this account's suppression list: {named}. Nothing was sent."
        )


class SuppressionService:
    def __init__(self, store: SuppressionStore, audit: AuditTrail, clock: Clock = utc_now) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    def entries(
        self,
        principal: Principal,
        tenant_id: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Suppression]:
        """Entries by address; a tenant admin's own tenant, the operator's every tenant
        (or ``tenant_id``'s)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        return self._store.list_suppressions(self._tenant(principal, tenant_id, True), limit, after)

    def add(
        self,
        principal: Principal,
        addresses: Iterable[str],
        tenant_id: str | None = None,
        reason: SuppressionReason = SuppressionReason.MANUAL,
        detail: str = "",
    ) -> Imported:
        """Suppress ``addresses`` (each checked; one bad address refuses them all)."""
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        tenant = self._tenant(principal, tenant_id, False)
        assert tenant is not None
        keys = list(dict.fromkeys(suppression_key(_checked(a)) for a in addresses))
        if not keys:
            raise InvalidInput("name at least one address")
        if len(keys) > MAX_IMPORT:
            raise InvalidInput(f"at most {MAX_IMPORT} addresses at once")
        now = self._clock()
        why = detail or f"added by {principal.actor}"
        added = self._store.add_suppressions(
            [Suppression(tenant, key, reason, now, why) for key in keys]
        )
        self._audit.record(
            principal,
            "suppression.add",
            keys[0] if len(keys) == 1 else f"{len(keys)} addresses",
            tenant,
            {"added": added, "reason": reason.value},
        )
        return Imported(added=added, already=len(keys) - added)

    def remove(self, principal: Principal, address: str, tenant_id: str | None = None) -> None:
        require(principal, Permission.ADMIN, Role.TENANT_ADMIN)
        tenant = self._tenant(principal, tenant_id, False)
        assert tenant is not None
        if not self._store.remove_suppression(tenant, address):
            raise NotFound(f"{address!r} is not on the suppression list")
        self._audit.record(principal, "suppression.remove", suppression_key(address), tenant)

    def refuse_suppressed(self, tenant_id: str, recipients: Sequence[str]) -> None:
        """RecipientsSuppressed when the tenant suppresses any of ``recipients``."""
        found = self._store.suppressed(tenant_id, recipients)
        if found:
            raise RecipientsSuppressed(found)

    @staticmethod
    def _tenant(principal: Principal, wanted: str | None, listing: bool) -> str | None:
        own = principal.tenant_id
        if own is not None:
            if wanted is not None and wanted != own:
                raise NotFound(f"no tenant {wanted!r}")  # another tenant's: as a missing one
            return own
        if wanted is None and not listing:
            raise InvalidInput("the platform admin names the tenant (tenant_id)")
        return wanted


def _checked(address: str) -> str:
    try:
        return normalize_address(address)
    except InvalidInput as error:
        raise InvalidInput(f"not an address: {address!r}") from error
