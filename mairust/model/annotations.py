"""What checks and hooks decide about a message before it is stored: folder and tags.

Set at accept time (a DMARC quarantine puts mail in ``Junk``; plugins add more), stored
with the message, applied by the pipeline's ``store`` stage to every copy. A hook's
``quarantine`` verdict holds the message in ``Quarantine`` and remembers in
``release_folder`` the folder it would have gone to, where a release puts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mairust.model.folders import INBOX, QUARANTINE


@dataclass(frozen=True, slots=True)
class Annotations:
    folder: str | None = None
    tags: tuple[str, ...] = field(default=())
    # Set only on held mail (folder Quarantine): where a release puts it (None: INBOX).
    release_folder: str | None = None

    def merged(self, other: Annotations) -> Annotations:
        """Tags of both (in order, once); the other's folder wins when it has one."""
        return Annotations(
            folder=other.folder or self.folder,
            tags=tuple(dict.fromkeys((*self.tags, *other.tags))),
            release_folder=other.release_folder or self.release_folder,
        )

    @property
    def held(self) -> bool:
        return self.folder == QUARANTINE

    def quarantined(self) -> Annotations:
        """Held in Quarantine, remembering the folder the message would otherwise get."""
        if self.held:
            return self
        return Annotations(QUARANTINE, self.tags, self.folder)

    def release_to(self) -> str:
        """Where a held message goes when it is released: the remembered folder, INBOX."""
        if self.held:
            return self.release_folder or INBOX
        return self.folder or INBOX

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"folder": self.folder, "tags": list(self.tags)}
        if self.release_folder is not None:
            data["release_folder"] = self.release_folder
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Annotations:
        if not data:
            return cls()
        return cls(
            folder=data.get("folder"),
            tags=tuple(data.get("tags") or ()),
            release_folder=data.get("release_folder"),
        )
