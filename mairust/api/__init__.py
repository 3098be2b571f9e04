"""MaiRust's REST API: a FastAPI app over the storage roles (no Ray in here)."""

from __future__ import annotations

from mairust.api.app import create_app

__all__ = ["create_app"]
