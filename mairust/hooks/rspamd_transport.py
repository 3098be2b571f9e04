"""The ``http`` transport's ``rspamd`` protocol: an ``http`` plugin whose manifest says
``transport.protocol = "rspamd"`` is a Rspamd scanner, called on its ``/checkv2`` endpoint
(the manifest's entrypoint URL) instead of with the HookRequest JSON.

Why in the core and not an SDK service in front of Rspamd: Rspamd already is an HTTP
service, so a translating hop would add a process, a port and a second network round trip
to every message for nothing but re-encoding; the two pure functions here do it in place.

The request is the raw message as the body (the binding needs the ``full-body`` scope) and
the envelope as Rspamd's request headers (``From``, ``Rcpt``: the recipients comma-separated,
which Rspamd splits, ``IP``, ``Helo``, ``Queue-Id``, ``User``). Rspamd's answer (its
``action``, ``score``, ``required_score``, ``symbols``) becomes a ``HookResponse``, read
through the plugin's permissions like any other:

- ``reject`` -> reject, ``550 5.7.1`` naming the score;
- ``soft reject`` and ``greylist`` -> tempfail, ``451 4.7.1``;
- ``add header`` -> the tag ``spam`` and ``X-Spam: Yes``; ``rewrite subject`` -> the tag
  ``spam`` and the Subject Rspamd proposes;
- ``no action`` (or anything else) -> continue.

Whatever the action, the score and the highest-scoring symbols become tags
(``rspamd:score=3.50``, ``rspamd:symbol=NAME``) and a header ``X-Spam-Score``, so a
message kept says why it scored what it did (a plugin without the ``tag`` or ``headers``
permission has these dropped, as always).
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from mairust.errors import MairustError
from mairust.hooks.chain import Binding
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.wire import HeaderEdit, HookRequest, HookResponse
from mairust.model.verdict import VerdictKind
from mairust.net.address_guard import OutgoingRequestError
from mairust.net.http_client import SafeHttpClient

PROTOCOL = "rspamd"
SPAM_TAG = "spam"
# Tags are for people and search: the few symbols that weigh most, not Rspamd's whole list.
MAX_SYMBOL_TAGS = 12
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_MAX_REPLY_TEXT = 200


class RspamdRequest:
    """What is sent to ``/checkv2``: Rspamd's request headers and the raw message."""

    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body


def rspamd_request(request: HookRequest) -> RspamdRequest:
    """``request`` as Rspamd's; PluginFailed when it carries no message to scan."""
    if request.body_base64 is None:
        raise PluginFailed(
            f"the rspamd protocol scans the raw message: bind it where the message exists "
            f"and give it the full-body scope (at {request.point.value} it got none)"
        )
    body = base64.b64decode(request.body_base64)
    headers: dict[str, str] = {}
    envelope = request.envelope
    if envelope is not None:
        headers["From"] = envelope.mail_from
        if envelope.rcpt_tos:
            headers["Rcpt"] = ", ".join(envelope.rcpt_tos)
        if envelope.client_ip:
            headers["IP"] = envelope.client_ip
        if envelope.helo:
            headers["Helo"] = _printable(envelope.helo)
        if envelope.authenticated_as:
            headers["User"] = envelope.authenticated_as
    if request.message_id:
        headers["Queue-Id"] = request.message_id
    return RspamdRequest(headers, body)


def hook_response(answer: dict[str, Any]) -> HookResponse:
    """Rspamd's ``/checkv2`` JSON as a hook response; ValueError for one it is not."""
    action = answer.get("action")
    score = _number(answer.get("score"))
    if not isinstance(action, str) or score is None:
        raise ValueError("no action and score: not a /checkv2 answer")
    required = _number(answer.get("required_score"))
    symbols = answer.get("symbols")
    scored = f"score {score:.2f}" + (f" / {required:.2f}" if required is not None else "")
    tags = [
        f"rspamd:score={score:.2f}",
        *_symbol_tags(symbols if isinstance(symbols, dict) else {}),
    ]
    headers = [HeaderEdit(action="add", name="X-Spam-Score", value=f"{score:.2f}")]
    reason = f"rspamd: {action} ({scored})"
    if action == "reject":
        text = f"Message rejected as spam (rspamd {scored})"
        return HookResponse(
            verdict=VerdictKind.REJECT, reason=reason, reply=f"550 5.7.1 {text}", tags=tags
        )
    if action in ("soft reject", "greylist"):
        text = f"Message deferred by rspamd ({action}), please try again later"
        return HookResponse(
            verdict=VerdictKind.TEMPFAIL, reason=reason, reply=f"451 4.7.1 {text}", tags=tags
        )
    if action == "add header":
        headers.append(HeaderEdit(action="add", name="X-Spam", value="Yes"))
        return HookResponse(reason=reason, tags=[SPAM_TAG, *tags], headers=headers)
    if action == "rewrite subject":
        subject = answer.get("subject")
        if isinstance(subject, str) and subject:
            headers.append(HeaderEdit(action="change", name="Subject", value=subject[:4000]))
        return HookResponse(reason=reason, tags=[SPAM_TAG, *tags], headers=headers)
    return HookResponse(reason=reason, tags=tags, headers=headers)


class RspamdPlugin:
    """Calls one Rspamd scanner at ``url`` (its ``/checkv2``)."""

    def __init__(self, client: SafeHttpClient, url: str, password: str | None = None) -> None:
        self._client = client
        self._url = url
        self._password = password

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        sent = rspamd_request(request)
        headers = dict(sent.headers)
        if self._password is not None:
            headers["Password"] = self._password
        try:
            answer = await self._client.post(self._url, sent.body, headers)
        except OutgoingRequestError as error:
            raise PluginFailed(f"plugin {binding.plugin}: {error}") from error
        if answer.status != 200:
            raise PluginFailed(f"plugin {binding.plugin}: rspamd answered HTTP {answer.status}")
        try:
            decoded = json.loads(answer.body)
            if not isinstance(decoded, dict):
                raise ValueError("not a JSON object")
            return hook_response(decoded)
        except (ValueError, MairustError) as error:
            raise PluginFailed(f"plugin {binding.plugin}: rspamd answered {error}") from None


def _symbol_tags(symbols: dict[str, Any]) -> list[str]:
    weighed: list[tuple[float, str]] = []
    for name, info in symbols.items():
        weight = _number(info.get("score")) if isinstance(info, dict) else None
        if weight:  # a symbol that weighs nothing explains nothing
            weighed.append((weight, str(name)))
    weighed.sort(key=lambda pair: (-abs(pair[0]), pair[1]))
    return [f"rspamd:symbol={_printable(name)[:80]}" for _, name in weighed[:MAX_SYMBOL_TAGS]]


def _number(value: Any) -> float | None:
    """``value`` as a finite float, None when it is no JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _printable(text: str) -> str:
    return _PRINTABLE.sub("?", text)[:_MAX_REPLY_TEXT]
