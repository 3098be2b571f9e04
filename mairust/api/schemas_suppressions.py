"""Request and response bodies of the suppression list routes (``/api/v1/suppressions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.suppression import Suppression, SuppressionReason
from mairust.services.suppressions import MAX_IMPORT

Address = Annotated[str, Field(min_length=3, max_length=254, examples=["joe@example.com"])]


class SuppressionEntry(BaseModel):
    tenant_id: str
    address: str
    reason: SuppressionReason
    detail: str
    created_at: datetime

    @classmethod
    def from_entry(cls, entry: Suppression) -> SuppressionEntry:
        return cls(
            tenant_id=entry.tenant_id,
            address=entry.address,
            reason=entry.reason,
            detail=entry.detail,
            created_at=entry.created_at,
        )


class SuppressionPage(BaseModel):
    items: list[SuppressionEntry]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class SuppressionAdd(BaseModel):
    """Addresses to suppress (an import is the same call with many)."""

    model_config = ConfigDict(extra="forbid")

    addresses: list[Address] = Field(min_length=1, max_length=MAX_IMPORT)
    reason: SuppressionReason = SuppressionReason.MANUAL
    # The platform admin names the tenant; a tenant admin's own is used (another is a 404).
    tenant_id: str | None = Field(None, max_length=64)


class SuppressionAdded(BaseModel):
    added: int = Field(description="Addresses that were not on the list before.")
    already: int = Field(description="Addresses that were on it already (left as they were).")
