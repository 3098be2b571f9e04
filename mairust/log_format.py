"""How every MaiRust process writes its log: ``text`` (one readable line) or ``json``
(one object a line, for log shippers), with the message id and trace id on each record
that concerns one message.

The trace id is the message id's own 128 bits (48 bits of milliseconds, 80 random: see
``mairust.model.ids``) written as 32 hex digits, the W3C Trace Context / OpenTelemetry
form. The front-end mints it with the message id before the spool commit, and every
later stage — the queue row and its lease, the pipeline, the outbound row and each
delivery attempt — carries the message id already, so each process derives the same
trace id with no schema change and no extra field on any call.

A record names its message by ``extra={"message_id": ...}``, by the ``fields`` of a
delivery record (``mairust.events.record``), or by running inside
:func:`message_context` (the SMTP DATA phase, one delivery attempt).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as model.ids writes
_current_message: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mairust_message_id", default=None
)
# LogRecord attributes that are not a caller's ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def trace_id_for(message_id: str) -> str | None:
    """The 32-hex-digit trace id of a MaiRust message id; None for anything else."""
    value = 0
    for char in message_id.upper():
        digit = _ALPHABET.find(char)
        if digit < 0 or len(message_id) != 26:
            return None
        value = value * 32 + digit
    if value >> 128 or value == 0:
        return None
    return f"{value:032x}"


@contextlib.contextmanager
def message_context(message_id: str | None) -> Iterator[None]:
    """Records logged inside (this task and what it awaits) concern ``message_id``."""
    token = _current_message.set(message_id)
    try:
        yield
    finally:
        _current_message.reset(token)


def message_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "message_id", None)
    if isinstance(explicit, str):
        return explicit
    fields = getattr(record, "fields", None)
    if isinstance(fields, Mapping) and isinstance(fields.get("message_id"), str):
        return str(fields["message_id"])
    return _current_message.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, message and trace ids,
    the caller's ``extra`` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        message_id = message_of(record)
        if message_id is not None:
            document["message_id"] = message_id
            trace_id = trace_id_for(message_id)
            if trace_id is not None:
                document["trace_id"] = trace_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in document:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """The root logger of this process at ``level`` in ``log_format`` (replacing the
    handlers a previous call, or Ray's, installed)."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
