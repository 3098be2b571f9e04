"""Request and response bodies of the mailbox quota routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mairust.model.quota import MailboxUsage

# A petabyte: far above any mailbox, far below what a BIGINT holds.
MAX_QUOTA_BYTES = 10**15


class QuotaSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quota_bytes: int | None = Field(
        ge=0,
        le=MAX_QUOTA_BYTES,
        description="The mailbox's own quota in bytes; 0 is unlimited, null returns the "
        "mailbox to the platform default (`mailbox.default_quota_bytes`).",
        examples=[1073741824],
    )


class QuotaOut(BaseModel):
    """A mailbox's quota and usage."""

    user_id: str
    address: str
    quota_bytes: int | None = Field(
        description="The mailbox's own setting; null: the platform default applies."
    )
    limit_bytes: int = Field(description="The limit in force, in bytes (0: unlimited).")
    used_bytes: int = Field(description="What the mailbox's messages take, in bytes.")
    full: bool = Field(
        description="Whether new mail is refused at RCPT (452 4.2.2) until space is freed."
    )

    @classmethod
    def from_usage(cls, usage: MailboxUsage) -> QuotaOut:
        return cls(
            user_id=usage.mailbox_id,
            address=usage.address,
            quota_bytes=usage.quota_bytes,
            limit_bytes=usage.limit_bytes,
            used_bytes=usage.used_bytes,
            full=usage.full,
        )
