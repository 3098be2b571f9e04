"""Request and response bodies of a domain's DKIM keys: public parts only, never a
private key nor where it is kept."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.dkim_keys import DkimAlgorithm, DkimKey, DkimKeyState


class DkimKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithm: DkimAlgorithm = Field(
        DkimAlgorithm.RSA2048, description="rsa2048 (rsa-sha256) or ed25519 (ed25519-sha256)."
    )
    selector: str | None = Field(
        None,
        min_length=1,
        max_length=253,
        description="The DNS selector (lower-case DNS labels); default mr<yyyymm>.",
        examples=["mr202611"],
    )


class DkimKeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithm: DkimAlgorithm | None = Field(
        None, description="Rotate only the active key of this type (default: every one)."
    )


class DkimKeyOut(BaseModel):
    id: str
    domain: str
    selector: str
    algorithm: DkimAlgorithm
    state: DkimKeyState
    public_key: str = Field(description="The record's p= value.")
    dns_name: str = Field(description="Where the TXT record goes.")
    dns_record: str = Field(description="The TXT record to publish there.")
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def from_key(cls, key: DkimKey) -> DkimKeyOut:
        return cls(
            id=key.id,
            domain=key.domain,
            selector=key.selector,
            algorithm=key.algorithm,
            state=key.state,
            public_key=key.public_key,
            dns_name=key.dns_name,
            dns_record=key.dns_record,
            created_at=key.created_at,
            retired_at=key.retired_at,
        )


class DkimKeyList(BaseModel):
    items: list[DkimKeyOut]
