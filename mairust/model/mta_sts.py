"""A recipient domain's MTA-STS policy as a sender keeps it (RFC 8461 §5.1 caching).

The policy text is kept as fetched and parsed again when read back
(``mairust.outbound.mta_sts.parse_policy``), so a stored row never holds a policy the
parser of the day would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StsPolicyRecord:
    domain: str  # the recipient domain, lower case
    policy_id: str  # the id of the _mta-sts TXT record it was fetched under
    text: str  # the policy file
    fetched_at: datetime
    expires_at: datetime  # fetched_at + the policy's max_age
