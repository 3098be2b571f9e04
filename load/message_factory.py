"""Test messages for load runs: who each message goes to, and its bytes at an exact size.

Every message carries a dot-stuffing probe (a line that is only "." and a line starting with "."),
so a client or server that gets transparency wrong shows it as a cut or changed message.
"""

from __future__ import annotations

import re
from email.utils import formatdate

__all__ = ["MessageFactory", "parse_size"]

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024}
_SIZE_UNITS |= {"m": 1024**2, "mb": 1024**2, "mib": 1024**2}
# A lone "." would end DATA early if not stuffed; ".leading" would lose its dot.
_DOT_PROBE = b".\r\n.leading dot: one dot must arrive (RFC 5321 section 4.5.2)\r\n"
_DOT_PROBE_LONGER = b".\r\n.leading dot: one dot must arrive (RFC 5321 section 4.5.2).\r\n"
_FILLER_LINE = b"MaiRust load test filler: the quick brown fox jumps over the lazy dog 0123456\r\n"


def parse_size(text: str) -> int:
    """Parse ``5120``, ``5k``, ``5KiB``, ``1M``: units are binary (k = KB = KiB = 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (bytes, or a number with k, KiB, M, MiB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


class MessageFactory:
    """Builds message ``index``: its recipients and RFC 5322 bytes of exactly ``size``.

    Recipient ``n`` of ``to_pattern`` cycles over ``0..to_count-1`` across messages, so message
    ``i`` gets ``n = i*per_message .. i*per_message + per_message - 1`` (mod ``to_count``).
    """

    def __init__(
        self,
        *,
        size: int,
        mail_from: str,
        to_pattern: str,
        to_count: int,
        recipients_per_message: int,
        id_domain: str,
        date: str | None = None,
        id_token: str | None = None,
    ) -> None:
        self._size = size
        self._mail_from = mail_from
        self._to_pattern = to_pattern
        self._to_count = to_count
        self._per_message = recipients_per_message
        self._id_domain = id_domain
        self._date = date or formatdate(usegmt=True)
        # Message-IDs are load.<index>.<token>@<id_domain>: the object's id keeps one process's
        # factories apart; generators in several processes share one run token instead.
        self._id_token = id_token or f"{id(self):x}"

    def recipients(self, index: int) -> list[str]:
        first = index * self._per_message
        return [
            self._to_pattern.format(n=(first + k) % self._to_count)
            for k in range(self._per_message)
        ]

    def build(self, index: int) -> bytes:
        """The message as the server must store it (CRLF lines, not yet dot-stuffed).

        Raises ValueError when ``size`` cannot hold the headers and the dot-stuffing probe.
        """
        header = (
            f"From: <{self._mail_from}>\r\n"
            f"To: {', '.join(f'<{r}>' for r in self.recipients(index))}\r\n"
            f"Subject: load test message {index}\r\n"
            f"Date: {self._date}\r\n"
            f"Message-ID: <load.{index}.{self._id_token}@{self._id_domain}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
        ).encode("ascii")
        body_size = self._size - len(header)
        probe = _DOT_PROBE
        # A filler tail of one byte cannot end in CRLF, so lengthen the probe line instead.
        if (body_size - len(probe)) % len(_FILLER_LINE) == 1:
            probe = _DOT_PROBE_LONGER
        padding = body_size - len(probe)
        if padding < 0:
            raise ValueError(
                f"size {self._size} is too small for message {index}: headers and the "
                f"dot-stuffing probe need {len(header) + len(_DOT_PROBE)} bytes"
            )
        full_lines, tail = divmod(padding, len(_FILLER_LINE))
        tail_line = _FILLER_LINE[: tail - 2] + b"\r\n" if tail else b""
        return header + probe + _FILLER_LINE * full_lines + tail_line
