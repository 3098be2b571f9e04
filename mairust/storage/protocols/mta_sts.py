"""Recipient domains' MTA-STS policies, kept across restarts.

Part of :mod:`mairust.storage.protocols`; its docstring says what holds for every role.
One row per domain: a newer fetch replaces it. A restarted delivery loop reads them back,
so a domain's policy still holds when its TXT record cannot be seen (RFC 8461 §5.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mairust.model.mta_sts import StsPolicyRecord


class MtaStsPolicyStore(Protocol):
    def get_sts_policy(self, domain: str) -> StsPolicyRecord | None:
        """The policy kept for ``domain`` (expired or not: the caller judges), or None."""
        ...

    def put_sts_policy(self, record: StsPolicyRecord) -> None:
        """Keep ``record`` as its domain's policy, replacing the one kept before."""
        ...

    def delete_expired_sts_policies(self, before: datetime) -> int:
        """Forget policies that expired before ``before``; how many were."""
        ...
