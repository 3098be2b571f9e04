"""SMTP AUTH (RFC 4954) towards a relay host: PLAIN (RFC 4616), else LOGIN.

Called by the session only once the stream is encrypted (the caller checks; this module
refuses too, so a caller's mistake cannot put a password on the wire in clear). A refusal
(535 and the like) or a relay offering neither mechanism is an
:class:`~mairust.outbound.smtp_types.AuthenticationFailed`: temporary, see there. Nothing
here logs what it sends.
"""

from __future__ import annotations

import base64

from mairust.outbound.smtp_types import (
    AuthenticationFailed,
    Capabilities,
    Credentials,
    Reply,
    TlsNotOffered,
)
from mairust.outbound.smtp_wire import SmtpConnection

# PLAIN first: one round trip; LOGIN for relays that offer nothing else.
MECHANISMS = ("PLAIN", "LOGIN")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


async def authenticate(
    wire: SmtpConnection,
    capabilities: Capabilities,
    credentials: Credentials,
    *,
    encrypted: bool,
    seconds: float,
    host: str,
) -> str:
    """Log in as ``credentials.username``; the mechanism used. AuthenticationFailed when
    the relay refuses or offers no mechanism we speak; TlsNotOffered if not ``encrypted``."""
    if not encrypted:
        raise TlsNotOffered(f"credentials for {host} are never sent in clear")
    offered = [m for m in MECHANISMS if m in capabilities.auth_mechanisms]
    if not offered:
        listed = " ".join(sorted(capabilities.auth_mechanisms)) or "none"
        raise AuthenticationFailed(
            f"{host} offers no AUTH mechanism we use (PLAIN, LOGIN); it offers: {listed}"
        )
    mechanism = offered[0]
    if mechanism == "PLAIN":
        token = _b64(f"\0{credentials.username}\0{credentials.password}")
        reply = await wire.command(f"AUTH PLAIN {token}", seconds)
    else:
        reply = await wire.command("AUTH LOGIN", seconds)
        for answer in (credentials.username, credentials.password):
            if reply.code != 334:
                break
            # Not wire.command: it names a missing reply after the line it sent.
            wire.write(_b64(answer))
            reply = await wire.read_reply(seconds, "AUTH LOGIN")
    if reply.code != 235:
        raise AuthenticationFailed(
            f"{host} refused AUTH {mechanism} as {credentials.username}: {_shown(reply)}"
        )
    return mechanism


def _shown(reply: Reply) -> str:
    return str(reply)[:200]
