"""The failures of outbound delivery that happen before or around a remote reply.

Each carries the enhanced status code (RFC 3463) that the delivery loop records on the
recipient and puts in a DSN; its first digit says whether to retry (4) or bounce (5).
A remote server's own refusals are not errors: they are replies on the recipient's result
(``mairust.outbound.smtp_client.RecipientResult``).
"""

from __future__ import annotations

import re

from mairust.errors import MairustError

_ENHANCED = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")


class DeliveryFailure(MairustError):
    """A delivery step failed with ``enhanced_code`` (``"5.1.10"``, ``"4.4.3"``...)."""

    default_code = "4.0.0"

    def __init__(self, message: str, *, enhanced_code: str | None = None) -> None:
        super().__init__(message)
        code = enhanced_code or self.default_code
        if not _ENHANCED.fullmatch(code):
            raise ValueError(f"not an enhanced status code: {code!r}")
        self.enhanced_code = code

    @property
    def permanent(self) -> bool:
        """True: bounce now; False: defer and retry."""
        return self.enhanced_code.startswith("5")

    @property
    def smtp_code(self) -> int:
        """The basic reply code that goes with it in a DSN's Diagnostic-Code."""
        return 554 if self.permanent else 451
