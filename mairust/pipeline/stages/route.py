"""Stage ``route``: decide where each recipient's copy goes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mairust.pipeline.stages.base import Ended, each_row
from mairust.pipeline.work import BatchContext, Deferred, Failed, Outcome, RecipientWork
from mairust.routing.router import (
    AliasTargets,
    LocalMailbox,
    NotLocal,
    Outbound,
    UnknownUser,
    route_recipient,
)


class RouteStage:
    name: ClassVar[str] = "route"
    description: ClassVar[str] = (
        "Route the recipient: a local mailbox, an alias's mailboxes, a routing rule's "
        "destination or the domain's catch-all; or an unknown user, or not ours."
    )

    def run(self, works: Sequence[RecipientWork], batch: BatchContext) -> Ended:
        def route(work: RecipientWork) -> Outcome | None:
            recipient = work.item.recipient
            if recipient not in batch.routes:
                batch.routes[recipient] = route_recipient(batch.stores.metadata, recipient)
            work.route = batch.routes[recipient]
            match work.route:
                case LocalMailbox() | AliasTargets():
                    return None
                case UnknownUser(address=address):
                    # Accepted at RCPT, gone since (mailbox deleted): permanent.
                    return Failed(f"5.1.1 mailbox {address} no longer exists")
                case Outbound(recipient=target, relay_host=host):
                    # The edge queues forwards and relays for the outbound queue at RCPT
                    # (aliases and catch-alls only ever name mailboxes), so only a rule
                    # made after the 250 (or a route cached across it) sends a row here.
                    # The copy was not sealed or rewritten for forwarding: kept (temporary)
                    # while the rule stands, delivered if it goes, bounced at expiry.
                    return Deferred(
                        f"4.3.5 routed to {host or target} by a rule made after the message "
                        "was accepted; mail already accepted is not forwarded"
                    )
                case NotLocal(domain=domain):
                    return Failed(
                        f"5.4.1 {domain} is not a local domain and relaying is not enabled"
                    )
            return None

        return each_row(self.name, works, route)
