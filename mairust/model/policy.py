"""A local domain's own policy and routing rules: what the tenant or operator set over the
API, stored with the domain, read by the SMTP edge and the pipeline without a restart.

``DomainPolicy`` overrides ``[auth]`` and ``[smtp]`` for mail *to* one domain (unset fields
inherit). A ``RoutingRule`` sends the addresses of a domain that match a local-part pattern
to a local mailbox, forwards them to another address, or relays them to a host.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime

from mairust.config import DmarcMode, SpfMode
from mairust.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class DomainPolicy:
    """Overrides for mail to one local domain; ``None`` inherits the configuration."""

    spf: SpfMode | None = None
    dmarc: DmarcMode | None = None
    # The largest message the domain takes, in bytes (never above smtp.max_message_size).
    max_message_bytes: int | None = None
    # Messages accepted for the domain per minute, per SMTP front-end.
    messages_per_minute: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "messages_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidInput(f"{name} must be at least 1 (or unset)")


NO_POLICY = DomainPolicy()


class RouteAction(enum.StrEnum):
    LOCAL = "local"  # into a mailbox of the domain's tenant
    FORWARD = "forward"  # to another address (a local one is delivered here)
    RELAY = "relay"  # to a host, recipient unchanged


# A local-part pattern: what a local part may hold, plus the glob characters * and ?.
_PATTERN = re.compile(r"[a-z0-9!#$%&'+/=^_`{|}~.*?-]{1,64}")
# A relay host: a host name or [IPv4/IPv6 literal], an optional port.
_RELAY_HOST = re.compile(
    r"(?:(?=.{1,253}(?::|$))(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*"
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
LMTP_PREFIX = "lmtp:"
# An LMTP server's unix socket: an absolute path of plain characters, no step starting
# with "." (so no "." or ".."), short enough for sun_path (108 bytes with its NUL).
_SOCKET_PATH = re.compile(r"(?:/[A-Za-z0-9_+@=,-][A-Za-z0-9._+@=,-]*)+")
_MAX_SOCKET_PATH = 107


def normalize_pattern(pattern: str) -> str:
    """The local-part pattern lower-cased; InvalidInput unless it is a plain glob."""
    normalized = pattern.strip().lower()
    if not _PATTERN.fullmatch(normalized):
        raise InvalidInput(
            "a pattern is a local part (letters, digits, . _ + - and the like) "
            "with * (any run) and ? (one character), at most 64 characters"
        )
    return normalized


def normalize_relay_host(host: str) -> str:
    """The relay rule target, normalised; InvalidInput unless it is one of

    - ``host``, ``host:port``, ``[address]``, ``[address]:port``: an SMTP relay (lower-cased);
    - ``lmtp:host:port``, ``lmtp:[address]:port``: an LMTP server (RFC 2033) over TCP; a
      port is required, since LMTP has no port of its own;
    - ``lmtp:/path/to/socket``: an LMTP server's unix socket (the path keeps its case).
    """
    text = host.strip()
    if text[: len(LMTP_PREFIX)].lower() == LMTP_PREFIX:
        rest = text[len(LMTP_PREFIX) :]
        if rest.startswith("/"):
            if not _SOCKET_PATH.fullmatch(rest) or len(rest) > _MAX_SOCKET_PATH:
                raise InvalidInput(
                    f"not an LMTP socket: {host!r} (an absolute path of letters, digits "
                    f"and . _ - + @ = , at most {_MAX_SOCKET_PATH} characters)"
                )
            return LMTP_PREFIX + rest
        if ":" not in rest.rpartition("]")[2]:
            raise InvalidInput(f"an LMTP relay needs a port: {host!r} (lmtp:host:port)")
        return LMTP_PREFIX + _normalize_smtp_host(rest, host)
    return _normalize_smtp_host(text, host)


def _normalize_smtp_host(text: str, given: str) -> str:
    normalized = text.lower()
    port = normalized.rpartition(":")[2] if not normalized.endswith("]") else ""
    if not _RELAY_HOST.fullmatch(normalized) or (
        port.isdigit() and ":" in normalized and not 0 < int(port) < 65536
    ):
        raise InvalidInput(
            f"not a relay host: {given!r} (host, host:port, [address]:port, "
            "lmtp:host:port or lmtp:/path/to/socket)"
        )
    return normalized


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Addresses ``<pattern>@<domain>`` go where ``action`` and ``target`` say.

    ``target`` is a mailbox address (local), an address (forward) or a host (relay).
    Rules of a domain are tried in ``position`` order after its mailboxes and aliases and
    before its catch-all; the first whose pattern matches decides.
    """

    id: str
    domain: str
    tenant_id: str
    pattern: str
    action: RouteAction
    target: str
    position: int
    created_at: datetime

    def matches(self, local_part: str) -> bool:
        # fnmatchcase: the pattern and the address are both lower-case already; [..]
        # classes cannot occur (the pattern grammar has no brackets).
        return fnmatch.fnmatchcase(local_part, self.pattern)
