"""The closed vocabulary of delivery records, declared once.

Every lifecycle event of a message is one of these record types (KumoMTA's
``RecordType``). They are logged on the ``mairust.events`` logger as structured
records, so log shippers and later the event API see one shape.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

_log = logging.getLogger("mairust.events")


class RecordType(enum.StrEnum):
    RECEPTION = "Reception"
    REJECTION = "Rejection"
    DELIVERY = "Delivery"
    TRANSIENT_FAILURE = "TransientFailure"
    BOUNCE = "Bounce"
    EXPIRATION = "Expiration"


def record(kind: RecordType, **fields: Any) -> None:
    """Log one delivery record with its fields as structured ``extra`` data."""
    text = " ".join(f"{key}={value}" for key, value in fields.items())
    _log.info("%s %s", kind.value, text, extra={"record_type": kind.value, "fields": fields})
