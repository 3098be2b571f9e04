"""The async face of the checks that the SMTP edge calls, and its in-process form.

In the cluster the service is a pool of Ray actors (``actors/auth_checker.py``); the
threaded service here runs the same ``AuthChecker`` in this process (tests, tools).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from mairust.auth.checker import AuthChecker, SenderCheck
from mairust.auth.results import AuthResults


class AuthService(Protocol):
    async def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck: ...

    async def check_message(self, message: bytes, sender: SenderCheck) -> AuthResults: ...


class ThreadedAuthService:
    """Runs the checker in worker threads so DNS waits never block the event loop."""

    def __init__(self, checker: AuthChecker) -> None:
        self._checker = checker

    async def check_sender(self, client_ip: str, helo: str, mail_from: str) -> SenderCheck:
        return await asyncio.to_thread(self._checker.check_sender, client_ip, helo, mail_from)

    async def check_message(self, message: bytes, sender: SenderCheck) -> AuthResults:
        return await asyncio.to_thread(self._checker.check_message, message, sender)
