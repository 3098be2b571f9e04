"""Packing a plugin's directory into a ``.tar.gz`` and unpacking one safely.

Packing is deterministic: the same directory gives the same bytes (members sorted by
path, regular files only, mtime 0, owner 0/0 with no names, mode 0644 or 0755, a gzip
header without name or time), so a package can be rebuilt and its SHA-256 compared.
Caches, VCS data and virtual environments are left out; a symbolic link is refused.

Unpacking treats the file as hostile: only regular files and directories, relative
paths without ``..``, no duplicate names, and bounds on the compressed size, the
decompressed stream, the files' total size and their number. Files are written with
``O_EXCL | O_NOFOLLOW`` into a fresh directory, never through ``tarfile.extractall``.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from mairust.errors import InvalidInput
from mairust.hooks.manifest import MANIFEST_NAME

PACKAGE_SUFFIX = ".tar.gz"
_SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_CHUNK = 64 * 1024


class PackageRefused(InvalidInput):
    """A package (or a directory to pack) that is not accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    """Bounds on what one package may unpack to."""

    max_package_bytes: int = 50 * 1024 * 1024  # the .tar.gz itself
    max_unpacked_bytes: int = 50 * 1024 * 1024  # the files' sizes together
    max_members: int = 10_000
    max_path_length: int = 512


def pack(directory: Path) -> bytes:
    """The package of ``directory`` (which must hold a plugin.toml) as bytes."""
    if not (directory / MANIFEST_NAME).is_file():
        raise PackageRefused(f"{directory} holds no {MANIFEST_NAME}: it is not a plugin")
    buffer = io.BytesIO()
    # mtime=0 and no file name: the gzip header says nothing about when or where.
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for relative in _members(directory):
            path = directory / relative
            info = tarfile.TarInfo(relative.as_posix())
            info.size = path.stat().st_size
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as content:
                tar.addfile(info, content)
    return buffer.getvalue()


def _members(directory: Path) -> list[PurePosixPath]:
    found: list[PurePosixPath] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        base = Path(root)
        for name in list(dirs):
            if name in _SKIPPED_NAMES:
                dirs.remove(name)
            elif (base / name).is_symlink():
                raise PackageRefused(f"{base / name} is a symbolic link: packages hold files")
        for name in files:
            path = base / name
            if name.endswith(_SKIPPED_SUFFIXES):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise PackageRefused(f"{path} is a symbolic link: packages hold files")
            if not stat.S_ISREG(mode):
                raise PackageRefused(f"{path} is not a regular file")
            found.append(PurePosixPath(path.relative_to(directory).as_posix()))
    return sorted(found)


def unpack(package: Path, target: Path, limits: UnpackLimits | None = None) -> None:
    """Unpacks ``package`` into ``target`` (created; must not exist); PackageRefused for
    anything but a plain, bounded tree of files with a plugin.toml at its top (and then
    ``target`` is removed again: nothing half-unpacked stays)."""
    limits = limits or UnpackLimits()
    try:
        size = package.stat().st_size
    except OSError as error:
        raise PackageRefused(f"cannot read the package {package}: {error}") from None
    if size > limits.max_package_bytes:
        raise PackageRefused(
            f"the package {package.name} is {size} bytes (at most {limits.max_package_bytes})"
        )
    target.mkdir(parents=False, exist_ok=False)
    try:
        _unpack_into(package, target, limits)
    except PackageRefused:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _unpack_into(package: Path, target: Path, limits: UnpackLimits) -> None:
    # Tar headers and padding on top of the files: 1 KiB a member covers them.
    stream_bound = limits.max_unpacked_bytes + 1024 * (limits.max_members + 20)
    try:
        with (
            package.open("rb") as raw,
            gzip.GzipFile(fileobj=raw, mode="rb") as gz,
            tarfile.open(fileobj=_Bounded(gz, stream_bound), mode="r|") as tar,
        ):
            _extract(tar, target, limits)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise PackageRefused(f"{package.name} is not a .tar.gz package: {error}") from None
    if not (target / MANIFEST_NAME).is_file():
        raise PackageRefused(f"{package.name} holds no {MANIFEST_NAME} at its top")


def _extract(tar: tarfile.TarFile, target: Path, limits: UnpackLimits) -> None:
    seen: set[str] = set()
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > limits.max_members:
            raise PackageRefused(f"more than {limits.max_members} members")
        relative = _checked_name(member.name, limits)
        if relative.as_posix() in seen:
            raise PackageRefused(f"{member.name!r} is in the package twice")
        seen.add(relative.as_posix())
        destination = target.joinpath(*relative.parts)
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        if not member.isreg():
            raise PackageRefused(f"{member.name!r} is a {_kind(member)}: packages hold files")
        total += member.size
        if total > limits.max_unpacked_bytes:
            raise PackageRefused(f"the files together exceed {limits.max_unpacked_bytes} bytes")
        destination.parent.mkdir(parents=True, exist_ok=True)
        content = tar.extractfile(member)
        assert content is not None  # a regular file always has content
        _write(destination, content, member.size, 0o755 if member.mode & 0o111 else 0o644)


def _checked_name(name: str, limits: UnpackLimits) -> PurePosixPath:
    if not name or len(name) > limits.max_path_length:
        raise PackageRefused(f"a member's name is empty or too long ({len(name)} characters)")
    if "\\" in name or "\x00" in name:
        raise PackageRefused(f"{name!r}: a member's name has a backslash or a NUL")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise PackageRefused(f"{name!r} is an absolute path")
    if any(part == ".." for part in path.parts):
        raise PackageRefused(f"{name!r} climbs out of the package (..)")
    parts = [part for part in path.parts if part != "."]
    if not parts:
        raise PackageRefused(f"{name!r} names no file")
    return PurePosixPath(*parts)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special member"


def _write(destination: Path, content: IO[bytes], size: int, mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        descriptor = os.open(destination, flags, mode)
    except OSError as error:
        raise PackageRefused(f"cannot unpack {destination.name}: {error}") from None
    with os.fdopen(descriptor, "wb") as out:
        left = size
        while left > 0:
            chunk = content.read(min(_CHUNK, left))
            if not chunk:
                raise PackageRefused(f"{destination.name} is cut short")
            out.write(chunk)
            left -= len(chunk)


class _Bounded(io.RawIOBase):
    """A reader that refuses to yield more than ``limit`` bytes (a gzip bomb stops here)."""

    def __init__(self, inner: gzip.GzipFile, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        wanted = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data = self._inner.read(wanted)
        self._left -= len(data)
        if self._left < 0:
            raise PackageRefused("the package unpacks to more than it may hold")
        return data
