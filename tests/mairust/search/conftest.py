"""Real embedded stores with mailboxes, and a way to spool mail into them."""

from tests.support.delivery_stores import settings, spool_message, stores

__all__ = ["settings", "spool_message", "stores"]
