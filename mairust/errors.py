"""Domain errors shared by every layer.

Each error says what went wrong in words a client may see; the SMTP edge and the
API turn them into replies (451/550, problem+json) in one place each.
"""

from __future__ import annotations


class MairustError(Exception):
    """Base of every error the core raises on purpose."""


class NotFound(MairustError):
    """The thing asked for does not exist in the caller's scope (a 404, never a 403)."""


class Unauthenticated(MairustError):
    """No valid credentials: a missing, unknown, expired or revoked token (a 401)."""


class Forbidden(MairustError):
    """The caller is known but may not do this: a permission or role it lacks (a 403).

    Never for another tenant's object: that one is :class:`NotFound` (invariant 5).
    """


class Conflict(MairustError):
    """The thing to create exists already."""


class InvalidInput(MairustError):
    """The caller sent something we refuse; nothing was changed."""


class StorageUnavailable(MairustError):
    """A store could not complete a write or read; the caller should retry later (451)."""


class CheckUnavailable(MairustError):
    """A check or hook service could not answer (its workers are down or unreachable):
    the SMTP edge says "try later", never "ok"."""


class InsufficientStorage(StorageUnavailable):
    """The disk under a store is full (or below its configured floor): new mail waits
    (SMTP 452 4.3.1) while everything already accepted stays as it was."""
