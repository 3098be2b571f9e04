"""Stage ``route``: decide where this recipient's copy goes."""

from __future__ import annotations

from typing import ClassVar

from mairust.pipeline.work import BatchContext, Failed, Outcome, RecipientWork
from mairust.routing.router import LocalMailbox, NotLocal, UnknownUser, route_recipient


class RouteStage:
    name: ClassVar[str] = "route"
    description: ClassVar[str] = "Route the recipient: local mailbox, unknown user, or not ours."

    def run(self, work: RecipientWork, batch: BatchContext) -> Outcome | None:
        work.route = route_recipient(batch.stores.metadata, work.item.recipient)
        match work.route:
            case LocalMailbox():
                return None
            case UnknownUser(address=address):
                # Accepted at RCPT, gone since (mailbox deleted): permanent.
                return Failed(f"5.1.1 mailbox {address} no longer exists")
            case NotLocal(domain=domain):
                return Failed(f"5.4.1 {domain} is not a local domain and relaying is not enabled")
