"""The recipient-policy plugin: each RCPT TO whose address matches the ``refuse`` regular
expression is refused with the configured ``reply`` (a 5xx); the others go on. Refusing at
RCPT costs far less than after DATA: the message is never sent. It is given the envelope
only (at RCPT TO, its one recipient is the address asked about)."""

from __future__ import annotations

import re
from functools import lru_cache

from mairust.plugin_sdk import Config, HookRequest, HookResponse, Plugin, proceed, reject

DEFAULT_REPLY = "550 5.7.1 This recipient does not take mail from here"

plugin = Plugin("recipient-policy")


@plugin.rcpt_to
def check(request: HookRequest, config: Config) -> HookResponse:
    refuse = config.get("refuse")
    if not refuse or request.envelope is None:
        return proceed()
    pattern = _compiled(str(refuse))
    for recipient in request.envelope.rcpt_tos:
        if pattern.search(recipient):
            reply = str(config.get("reply") or DEFAULT_REPLY)
            return reject(f"recipient {recipient} is refused by policy", reply=reply)
    return proceed()


@lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)
