"""``POST /api/v1/unsubscribe/{token}``: one-click unsubscribe (RFC 8058).

A recipient's mail provider POSTs the ``List-Unsubscribe`` link of a message the send API
made with ``unsubscribe``, with the body ``List-Unsubscribe=One-Click`` (form-urlencoded
or multipart/form-data, RFC 8058 §3.2). No bearer token: the signed token in the path is
the credential; callers are rate-limited by client address, as the callbacks are. A GET
is a 405: RFC 8058 forbids unsubscribing on a GET (link scanners fetch every URL), and a
confirmation page would be a second way in that providers' one-click buttons never use.
:class:`~mairust.services.unsubscribe.UnsubscribeService` decides.
"""

from __future__ import annotations

from email import policy
from email.errors import MessageError
from email.message import Message
from email.parser import BytesParser
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from mairust.api.deps import PUBLIC_MARK, AppDep, client_source
from mairust.api.problems import problem_responses
from mairust.api.rate_limit import RateLimits
from mairust.api.route_threads import PooledRoute
from mairust.errors import InvalidInput
from mairust.outbound.unsubscribe import MAX_TOKEN_LENGTH, ONE_CLICK

router = APIRouter(route_class=PooledRoute, prefix="/api/v1", tags=["outbound"])

# The one field a one-click POST carries; anything much longer is not one.
_MAX_BODY = 4096
_FIELD, _, _VALUE = ONE_CLICK.partition("=")
_FORM_SCHEMA = {
    "type": "object",
    "required": [_FIELD],
    "properties": {_FIELD: {"type": "string", "enum": [_VALUE]}},
}

Token = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_TOKEN_LENGTH,
        description="The token of the message's List-Unsubscribe link.",
    ),
]


class UnsubscribeOut(BaseModel):
    unsubscribed: bool = Field(description="Always true: the address gets no more mail.")
    already: bool = Field(description="It was on the suppression list before this request.")


async def unsubscribe_caller(request: Request) -> None:
    """No bearer token (the link's token is the credential); limited per client address."""
    limits: RateLimits = request.app.state.rate_limits
    limits.check_token(f"unsubscribe:{client_source(request)}")


setattr(unsubscribe_caller, PUBLIC_MARK, True)


async def one_click_body(request: Request) -> None:
    """422 unless the body is the RFC 8058 one-click form."""
    body = await request.body()
    if (
        len(body) > _MAX_BODY
        or _one_click_value(request.headers.get("content-type", ""), body) != _VALUE
    ):
        raise InvalidInput(f"a one-click unsubscribe POSTs the form field {ONE_CLICK} (RFC 8058)")


@router.post(
    "/unsubscribe/{token}",
    response_model=UnsubscribeOut,
    summary="One-click unsubscribe (RFC 8058)",
    responses=problem_responses(404, 422, 429),
    dependencies=[Depends(unsubscribe_caller), Depends(one_click_body)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
                "multipart/form-data": {"schema": _FORM_SCHEMA},
            },
        }
    },
)
def unsubscribe(token: Token, request: Request, application: AppDep) -> UnsubscribeOut:
    """Put the address the link names on its sender's suppression list (reason
    `unsubscribe`). 404 for a link that is forged, altered or expired (one answer for
    all); 422 without the one-click form body. A second POST changes nothing."""
    done = application.unsubscribe.unsubscribe(token, client_source(request))
    return UnsubscribeOut(unsubscribed=True, already=not done.added)


def _one_click_value(content_type: str, body: bytes) -> str | None:
    """The form's ``List-Unsubscribe`` value, urlencoded or multipart; None if absent."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        try:
            values = parse_qs(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        found = values.get(_FIELD, [])
        return found[0] if len(found) == 1 else None
    if media == "multipart/form-data":
        try:
            return _multipart_value(content_type, body)
        except (MessageError, ValueError, LookupError, TypeError):
            return None
    return None


def _multipart_value(content_type: str, body: bytes) -> str | None:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    message = BytesParser(policy=policy.compat32).parsebytes(head + body)
    parts = message.get_payload() if message.is_multipart() else []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message):
            continue
        if part.get_param("name", header="content-disposition") == _FIELD:
            payload = part.get_payload()
            return payload.strip() if isinstance(payload, str) else None
    return None
