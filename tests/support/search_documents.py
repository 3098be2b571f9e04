"""Search documents for the search-role tests, with defaults a test overrides by keyword."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from mairust.model.mailbox import SearchDocument

START = datetime(2024, 1, 1, tzinfo=UTC)
_DEFAULT = SearchDocument(
    entry_id="",
    tenant_id="T-ACME",
    mailbox_id="MB-1",
    subject="",
    from_addr="sender@remote.test",
    to_addrs=("user@acme.test",),
    body="",
    received_at=START,
)


def search_doc(entry_id: str, body: str, **changes: object) -> SearchDocument:
    """A document of tenant T-ACME, mailbox MB-1, received at ``START`` unless changed."""
    return replace(_DEFAULT, entry_id=entry_id, body=body, **changes)  # type: ignore[arg-type]
