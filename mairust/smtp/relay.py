"""Relaying for authenticated submitters: the tenant a submitter sends for, and the remote
recipient (with its RFC 3461 DSN parameters) the spool hands to the outbound queue.

Only an authenticated session relays; everyone else hears ``554 5.7.1 Relay access
denied`` for a recipient that is not ours (the handler's RCPT decides that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from aiosmtpd.smtp import Session

from mairust.micro_batch import KeyedBatcher
from mairust.model.outbound import RemoteRecipient
from mairust.model.suppression import Suppression, suppression_key
from mairust.routing.route_cache import RouteCache
from mairust.routing.router import mailboxes_of

# (tenant id, addresses) → those the tenant suppresses (a store's ``suppressed``).
SuppressionLookup = Callable[[str, Sequence[str]], Mapping[str, Suppression]]

_NOTIFY_WORDS = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


class SuppressionChecks:
    """The suppression list asked for each remote RCPT of a submitter, the RCPTs of all
    sessions that arrive while a lookup is out asked together: one thread hop and one
    query per tenant and batch instead of per recipient. Nothing is remembered between
    batches, so a suppression the delivery loop just added refuses the next RCPT."""

    def __init__(self, lookup: SuppressionLookup) -> None:
        self._lookup = lookup
        self._batches: KeyedBatcher[str, str, Suppression | None] = KeyedBatcher(
            self._ask, max_calls_per_key=1
        )

    async def suppressed(self, tenant_id: str, address: str) -> Suppression | None:
        """The tenant's suppression of ``address``, if any. StorageUnavailable when the
        list cannot be read."""
        return await self._batches.submit(tenant_id, address)

    async def _ask(self, tenant_id: str, addresses: list[str]) -> list[Suppression | None]:
        found = await asyncio.to_thread(self._lookup, tenant_id, list(dict.fromkeys(addresses)))
        # By the suppressed form: two sessions may spell one address in two cases.
        by_key = {suppression_key(address): entry for address, entry in found.items()}
        return [by_key.get(suppression_key(address)) for address in addresses]


async def submitter_tenant(routes: RouteCache, session: Session) -> str | None:
    """The tenant of the authenticated user's mailbox (None: not authenticated, or a
    login that is no mailbox here). Raises StorageUnavailable when it cannot be told."""
    login = session.auth_data if session.authenticated else None
    if not isinstance(login, str):
        return None
    return await login_tenant(routes, login)


async def login_tenant(routes: RouteCache, login: str) -> str | None:
    """The tenant of the mailbox ``login`` names (None: no mailbox here), through the
    route cache. Raises StorageUnavailable when it cannot be told."""
    found = routes.cached(login)
    route = found if found is not None else await asyncio.to_thread(routes.route, login)
    owners = mailboxes_of(route)
    return owners[0].tenant_id if owners else None


def remote_recipient(
    address: str, rcpt_options: list[str], tenant_id: str | None
) -> RemoteRecipient:
    """The outbound recipient for ``address`` with the NOTIFY and ORCPT it was given
    (RFC 3461 §4.1, §4.2); unknown or malformed words are ignored, not refused."""
    notify: tuple[str, ...] = ()
    orcpt: str | None = None
    for option in rcpt_options:
        name, _, value = option.partition("=")
        match name.upper():
            case "NOTIFY":
                words = tuple(word.upper() for word in value.split(",") if word)
                if words and set(words) <= _NOTIFY_WORDS:
                    notify = words
            case "ORCPT" if value:
                orcpt = value
    return RemoteRecipient(address, tenant_id, notify=notify, orcpt=orcpt)


def as_spelt(server: object, options: list[str]) -> list[str]:
    """The command's parameters as the client spelt them (our protocol class keeps them:
    ENVID and ORCPT are case-sensitive), else aiosmtpd's upper-cased ``options``."""
    original = getattr(server, "original_parameters", None)
    if isinstance(original, list) and len(original) == len(options):
        return [str(option) for option in original]
    return options


def dsn_mail_parameters(mail_options: Sequence[str]) -> dict[str, str | None]:
    """RET (FULL or HDRS) and ENVID of a MAIL command (RFC 3461 §4.3, §4.4), as the
    spool's ``dsn_ret`` and ``dsn_envid``; anything else is not ours to keep."""
    ret: str | None = None
    envid: str | None = None
    for option in mail_options:
        name, _, value = option.partition("=")
        match name.upper():
            case "RET" if value.upper() in ("FULL", "HDRS"):
                ret = value.upper()
            case "ENVID" if value:
                envid = value[:100]
    return {"dsn_ret": ret, "dsn_envid": envid}
