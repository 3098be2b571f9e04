"""What checks and hooks decide about a message before it is stored: folder and tags.

Set at accept time (a DMARC quarantine puts mail in ``Junk``; plugins will add more),
stored with the message, applied by the pipeline's ``store`` stage to every copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Annotations:
    folder: str | None = None
    tags: tuple[str, ...] = field(default=())

    def merged(self, other: Annotations) -> Annotations:
        """Tags of both (in order, once); the other's folder wins when it has one."""
        return Annotations(
            folder=other.folder or self.folder,
            tags=tuple(dict.fromkeys((*self.tags, *other.tags))),
        )

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "tags": list(self.tags)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Annotations:
        if not data:
            return cls()
        return cls(folder=data.get("folder"), tags=tuple(data.get("tags") or ()))
