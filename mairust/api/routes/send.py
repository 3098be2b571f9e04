"""``POST /api/v1/send``: a JSON message in, durably queued for local delivery out.

The route parses and presents; :class:`~mairust.services.sending.SendService` decides who
may send as whom and to whom, and answers only after the spool commit. Async: the spool
commit is awaited on the event loop that runs the app's spool.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from mairust.api.deps import AppDep, Sender
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_send import SendAccepted, SendRequest

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1",
    tags=["sending"],
    responses=problem_responses(401, 403, 503),
)


@router.post(
    "/send",
    response_model=SendAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a message to local mailboxes",
    responses=problem_responses(404, 413, 422),
)
async def send_message(body: SendRequest, principal: Sender, application: AppDep) -> SendAccepted:
    """Compose the message (MIME, CRLF, 7-bit transfer encodings) and accept it through the
    same durable spool as SMTP: a 202 means it is stored and queued, and it will be
    delivered to each recipient's mailbox (and be searchable) within moments.

    The From address must be one the token may send as: a user's own address, any address
    in a tenant admin's domains, any local address for the platform admin (a domain out of
    reach is a 404). Every recipient must be a local mailbox: outbound delivery is not
    available yet, so a remote recipient refuses the whole message with a 422 naming it.
    CR, LF and NUL in any single-line field are a 422; bodies and attachments together
    may hold at most `api.max_send_size` bytes (a 422 beyond; a request body far beyond
    is a 413). A 503 with `Retry-After` means nothing was accepted: send it again later.
    """
    receipt = await application.sending.send(principal, body)
    return SendAccepted(
        queue_id=receipt.queue_id,
        message_id=receipt.message_id,
        recipients=list(receipt.recipients),
    )
