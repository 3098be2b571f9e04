"""A learning plugin's trained model, as stored: opaque bytes the plugin wrote, numbered.

Version 1 is its first training; each training stores the next version, and the replicas
run the newest (``mairust.plugin_sdk.learning``, ``mairust.services.plugin_training``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PluginModel:
    plugin: str
    version: int
    model: bytes
    # How many examples this training added, and what asked for it ("api", "release").
    examples: int
    source: str
    created_at: datetime
