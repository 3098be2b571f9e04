"""``FileBlobStore``: message bodies as content-addressed local files (the embedded blob role).

A body lives at ``root/ab/cdef…`` where ``abcdef…`` is its sha256 in hex. ``put`` is
durable before it returns (250 is a promise): the bytes go to a temporary file in the
target directory, which is fsynced and renamed into place, then the directory is
fsynced so the new name survives a power cut. Identical content is stored once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from mairust.errors import InvalidInput, NotFound, StorageUnavailable
from mairust.model.message import BlobInfo

log = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")
_SHARDS = [f"{n:02x}" for n in range(256)]


class FileBlobStore:
    """Implements :class:`mairust.storage.protocols.BlobStore`; thread- and process-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        try:
            created_root = not self.root.exists()
            self.root.mkdir(parents=True, exist_ok=True)
            # Every shard directory exists from the start, so no put has to make one durable.
            created_shard = False
            for shard in _SHARDS:
                with contextlib.suppress(FileExistsError):
                    (self.root / shard).mkdir()
                    created_shard = True
            if created_shard:
                _fsync_dir(self.root)
            if created_root:
                _fsync_dir(self.root.parent)
        except OSError as error:
            raise StorageUnavailable(f"blob store unusable at {self.root}: {error}") from error

    def put(self, data: bytes) -> BlobInfo:
        digest = hashlib.sha256(data).hexdigest()
        info = BlobInfo(key=digest, sha256=digest, size=len(data))
        path = self._path(digest)
        try:
            if not path.parent.is_dir():  # a shard removed by hand since start-up
                path.parent.mkdir(exist_ok=True)
                _fsync_dir(self.root)
            if not path.exists():
                _write_durably(path, data)
            # Also when the file was there: its writer may have died before this fsync.
            _fsync_dir(path.parent)
        except OSError as error:
            log.error("blob %s not stored: %s", digest, error)
            raise StorageUnavailable(f"blob store write failed: {error}") from error
        return info

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as error:
            raise NotFound(f"no such blob: {key}") from error
        except OSError as error:
            raise StorageUnavailable(f"blob store read failed: {error}") from error

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageUnavailable(f"blob store delete failed: {error}") from error

    def close(self) -> None:
        """Nothing is held open between calls."""

    def _path(self, key: str) -> Path:
        # Only 64 lower-case hex digits: a key can never name a path outside the root.
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidInput(f"not a blob key: {key!r}")
        return self.root / key[:2] / key[2:]


def _write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename."""
    fd, temp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
