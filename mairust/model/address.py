"""Mail addresses as we compare and store them."""

from __future__ import annotations

from mairust.errors import InvalidInput


def normalize_address(raw: str) -> str:
    """Lower-case ``local@domain`` without angle brackets or surrounding space.

    Local parts are compared case-insensitively, as nearly every mail system does;
    domains are lower-cased and IDNA-decoded names are kept as given (UTF-8).
    """
    address = raw.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    local, sep, domain = address.rpartition("@")
    # Control characters (NUL above all) have no place in an address, and PostgreSQL
    # text cannot even hold a NUL.
    if (
        not sep
        or not local
        or not domain
        or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in address)
    ):
        raise InvalidInput(f"not a mail address: {raw!r}")
    return f"{local.lower()}@{domain.lower().rstrip('.')}"


def domain_of(address: str) -> str:
    """The domain part of a normalised address."""
    return address.rpartition("@")[2]


def normalize_domain(raw: str) -> str:
    """Lower-case domain name without a trailing dot; refuses what cannot be a host name."""
    domain = raw.strip().lower().rstrip(".")
    if not domain or "@" in domain or any(c.isspace() for c in domain) or ".." in domain:
        raise InvalidInput(f"not a domain name: {raw!r}")
    return domain
