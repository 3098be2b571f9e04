"""The limits a local domain's own policy puts on mail to it, at the SMTP edge: the largest
message (checked on the client's ``SIZE=`` at RCPT and on the bytes at the end of DATA)
and the messages it takes per minute (a token bucket per domain in this front-end).

The policy travels with the recipient's route (``mairust.routing``), so a change made over
the API is in force within the route cache's lifetime, with no restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from mairust.model.policy import DomainPolicy
from mairust.token_bucket import Clock, TokenBucket

_SIZE_PARAMETER = "SIZE="


class DomainLimits:
    """Size and rate checks for the recipients of one front-end's transactions."""

    def __init__(self, max_message_size: int, clock: Clock = time.monotonic) -> None:
        self._max_message_size = max_message_size
        # The bucket's own rate is never used: every domain brings its own.
        self._rates = TokenBucket(1.0, 1, clock=clock, max_keys=100_000)

    def size_limit(self, policies: Iterable[DomainPolicy]) -> int:
        """The largest message every one of these recipients' domains takes."""
        limits = [p.max_message_bytes for p in policies if p.max_message_bytes is not None]
        return min([self._max_message_size, *limits])

    def declared_too_big(self, policy: DomainPolicy, mail_options: Sequence[str]) -> bool:
        """True when the client's ``SIZE=`` (RFC 1870) is above the domain's limit."""
        if policy.max_message_bytes is None:
            return False
        for option in mail_options:
            if option.upper().startswith(_SIZE_PARAMETER):
                declared = option[len(_SIZE_PARAMETER) :]
                return declared.isdigit() and int(declared) > policy.max_message_bytes
        return False

    def admit(self, domain: str, policy: DomainPolicy) -> bool:
        """Take one message of the domain's per-minute allowance; False when spent."""
        per_minute = policy.messages_per_minute
        if per_minute is None:
            return True
        return self._rates.take(domain, per_minute / 60.0, per_minute) == 0.0
