"""Rate limits of the API: a token bucket per API token, and one per client address for
password log-ins, answered with a 429 problem and ``Retry-After``.

The buckets (:mod:`mairust.token_bucket`) live in this process: each API replica keeps
its own, so N replicas allow N times the configured rate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from mairust.api.problems import TOO_MANY_REQUESTS, ProblemError
from mairust.config import ApiSettings
from mairust.token_bucket import Clock, TokenBucket

LOG_IN_PATH = "/api/v1/auth/token"


@dataclass(frozen=True)
class RateLimits:
    """The API's limiters; None where the configuration turns one off."""

    per_token: TokenBucket | None
    log_ins: TokenBucket | None

    @classmethod
    def from_settings(cls, api: ApiSettings, clock: Clock = time.monotonic) -> RateLimits:
        per_token = None
        if api.rate_limit_per_second > 0:
            per_token = TokenBucket(api.rate_limit_per_second, api.rate_limit_burst, clock=clock)
        log_ins = None
        if api.login_attempts_per_minute > 0:
            attempts = api.login_attempts_per_minute
            log_ins = TokenBucket(attempts / 60.0, attempts, clock=clock)
        return cls(per_token, log_ins)

    def check_token(self, token_key: str) -> None:
        """429 when the token (by id, never by its secret) is over its rate."""
        if self.per_token is not None:
            _refuse_if_waiting(self.per_token.take(token_key), "this token")

    def check_log_in(self, client: str) -> None:
        """429 when ``client`` tried to log in too often."""
        if self.log_ins is not None:
            _refuse_if_waiting(self.log_ins.take(client), "log-ins from this address")


def _refuse_if_waiting(wait: float, who: str) -> None:
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ProblemError(
            TOO_MANY_REQUESTS,
            f"Too many requests for {who}; retry in {seconds} s.",
            {"Retry-After": str(seconds)},
        )


def document_rate_limits(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the 429 answer to every ``/api/v1`` operation of an OpenAPI document."""
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            answer = operation.setdefault("responses", {}).setdefault(
                "429", {"description": "Too Many Requests (see `Retry-After`)"}
            )
            # A route that declares its own 429 (the public unsubscribe link's per-client
            # limit) gets the header documented too.
            answer.setdefault("headers", {}).setdefault(
                "Retry-After",
                {
                    "description": "Seconds to wait before the next request.",
                    "schema": {"type": "integer"},
                },
            )
    return schema
