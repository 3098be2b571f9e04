"""``FileBlobStore``: message bodies as content-addressed local files (the embedded blob role).

A body lives at ``root/ab/cdef…`` where ``abcdef…`` is its sha256 in hex. ``put`` is
durable before it returns (250 is a promise): the bytes go to a temporary file in the
target directory, which is fsynced and renamed into place, then the directory is
fsynced so the new name survives a power cut. Identical content is stored once; a put
of content already there refreshes the file's mtime, which is the blob's write time for
the sweep (:mod:`mairust.storage.blob_sweep`), as a second PutObject is on S3.
A writer killed mid-write leaves a ``.tmp-*`` file in the shard directory: the sweep's
unfinished upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from mairust.errors import InvalidInput, NotFound, StorageUnavailable
from mairust.model.message import BlobInfo
from mairust.storage.blob_sweep import UnfinishedUpload, WrittenBlob

log = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")
_SHARDS = [f"{n:02x}" for n in range(256)]
_TEMP_PREFIX = ".tmp-"
_TEMP_NAME = re.compile(r"[0-9a-f]{2}/\.tmp-[^/]+")


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
            if path.exists():
                # A new write time, so a sweep that listed this blob as an old orphan
                # sees, on its check before deleting, that a message may name it now.
                os.utime(path)
            else:
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

    # -- sweeping (mairust.storage.blob_sweep) ------------------------------------------

    def blobs_written_before(self, moment: datetime) -> Iterator[WrittenBlob]:
        """The blobs whose files were last written before ``moment`` (aware)."""
        for shard, entry, written_at in self._entries_before(moment):
            key = shard + entry.name
            if _KEY.fullmatch(key) and entry.is_file(follow_symlinks=False):
                yield WrittenBlob(key, written_at)

    def delete_if_written_before(self, key: str, moment: datetime) -> bool:
        """Delete blob ``key`` unless it was written again at or after ``moment``."""
        return _unlink_if(self._path(key), lambda written_at: written_at < moment)

    def uploads_started_before(self, moment: datetime) -> Iterator[UnfinishedUpload]:
        """The ``.tmp-*`` files last written before ``moment``: writes whose process died."""
        for shard, entry, written_at in self._entries_before(moment):
            if entry.name.startswith(_TEMP_PREFIX):
                yield UnfinishedUpload(f"{shard}/{entry.name}", written_at)

    def abort_upload(self, upload: UnfinishedUpload) -> bool:
        """Remove a temporary file listed by :meth:`uploads_started_before`."""
        # Only a temporary file in a shard: the name can never reach a blob or leave the root.
        if not _TEMP_NAME.fullmatch(upload.name):
            raise InvalidInput(f"not a temporary blob file: {upload.name!r}")
        # Not when written since the listing: a writer still alive after the grace period.
        path = self.root / upload.name
        return _unlink_if(path, lambda written_at: written_at <= upload.started_at)

    def _entries_before(self, moment: datetime) -> Iterator[tuple[str, os.DirEntry[str], datetime]]:
        """(shard, entry, mtime) of the files in the shard directories older than ``moment``."""
        for shard in _SHARDS:
            try:
                with os.scandir(self.root / shard) as entries:
                    for entry in entries:
                        try:
                            mtime = entry.stat(follow_symlinks=False).st_mtime
                        except FileNotFoundError:  # renamed or removed since the listing
                            continue
                        written_at = datetime.fromtimestamp(mtime, UTC)
                        if written_at < moment:
                            yield shard, entry, written_at
            except FileNotFoundError:  # a shard removed by hand: nothing in it to sweep
                continue
            except OSError as error:
                raise StorageUnavailable(f"blob store not listed: {error}") from error

    def _path(self, key: str) -> Path:
        # Only 64 lower-case hex digits: a key can never name a path outside the root.
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidInput(f"not a blob key: {key!r}")
        return self.root / key[:2] / key[2:]


def _write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file, fsync, rename."""
    fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
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


def _unlink_if(path: Path, stale: Callable[[datetime], bool]) -> bool:
    """Unlink ``path`` if its mtime, read now, is ``stale``; whether it was unlinked."""
    try:
        # Read again now: the listing may be minutes old, and a put may have refreshed
        # the file since (a message about to name it).
        if not stale(datetime.fromtimestamp(path.stat().st_mtime, UTC)):
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as error:
        raise StorageUnavailable(f"blob store sweep failed: {error}") from error
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
