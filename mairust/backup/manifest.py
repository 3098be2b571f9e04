"""The backup manifest: what a backup holds, its counts and checksums, and its checks.

``manifest.json`` is written last (atomically), so a directory without one is an
unfinished backup. Every file but the blobs is listed with its sha256; a blob is named by
the sha256 of its content, so it checks itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mairust.errors import MairustError

MANIFEST = "manifest.json"
FORMAT = 1
_CHUNK = 1024 * 1024


class BackupRefused(MairustError):
    """A backup that cannot be restored here (unfinished, damaged, from a newer schema),
    or a target that would be overwritten without --force."""


@dataclass(slots=True)
class Manifest:
    """The contents of ``manifest.json``."""

    mairust_version: str
    created_at: str
    schema_revision: str
    metadata_backend: str  # "sqlite" (metadata.db) or "postgresql" (metadata/*.jsonl)
    row_counts: dict[str, int]
    blob_count: int
    blob_bytes: int
    search_included: bool  # an FTS5 copy in search.db; otherwise rebuilt on restore
    master_key_included: bool
    key_ids: list[str]  # the key ids of the keyring at backup time (ids reveal no key)
    config_included: bool
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    # Blobs named by a message in the snapshot but gone when copied (purged meanwhile).
    missing_blobs: list[str] = field(default_factory=list)
    format: int = FORMAT

    def write(self, directory: Path) -> None:
        temporary = directory / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.replace(directory / MANIFEST)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """The manifest of the backup at ``directory``; BackupRefused if there is none."""
        path = directory / MANIFEST
        if not path.is_file():
            raise BackupRefused(f"{directory} is not a finished backup: it has no {MANIFEST}")
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            if raw.get("format") != FORMAT:
                raise BackupRefused(
                    f"{path}: backup format {raw.get('format')!r}, this MaiRust reads {FORMAT}"
                )
            return cls(**raw)
        except (ValueError, TypeError) as error:
            raise BackupRefused(f"{path} is damaged: {error}") from error

    def verify_files(self, directory: Path) -> None:
        """BackupRefused unless every listed file is there with its checksum."""
        for name, expected in sorted(self.files.items()):
            path = directory / name
            if not path.is_file():
                raise BackupRefused(f"backup damaged: {name} is missing")
            if file_sha256(path) != expected:
                raise BackupRefused(f"backup damaged: {name} does not match its checksum")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
