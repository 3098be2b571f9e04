"""The small files of a backup: the config file (without the master key unless asked) and
the data dir's own files (admin token, TLS pair, ACME account, installed plugins).

The stores' own files (``metadata.db``, ``search.db``, ``blobs/``) are not copied here:
a plain copy of a live SQLite file is not a consistent one (see :mod:`tables`).
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

from mairust.backup.manifest import BackupRefused
from mairust.secrets.master_key import KEY_FILE
from mairust.storage.sqlite_writer_lock import LOCK_SUFFIX

CONFIG_NAME = "config.toml"
DATA_FILES = "data"
# The stores' files and what SQLite (and our writers' turn) put beside them; the master
# key has its own rule.
_STORE_NAMES = re.compile(
    r"(metadata|search)\.db(-wal|-shm|-journal|" + re.escape(LOCK_SUFFIX) + r")?|blobs|" + KEY_FILE
)
_KEY_LINE = re.compile(r"^\s*(key|previous_keys)\s*=")
_TABLE_LINE = re.compile(r"^\s*\[")


def config_without_key(text: str) -> str:
    """``text`` (TOML) with ``secrets.key`` and ``secrets.previous_keys`` commented out.

    BackupRefused when the keys are spelt in a way this cannot take out line by line
    (a dotted ``secrets.key = ...`` at the top, an inline table): better no backup than
    one that holds the key against the operator's wish.
    """
    if not _secret_keys(text):
        return text
    lines = []
    in_secrets = False
    for line in text.splitlines(keepends=True):
        if _TABLE_LINE.match(line):
            in_secrets = line.strip().replace(" ", "") == "[secrets]"
        if in_secrets and _KEY_LINE.match(line):
            line = "# (master key left out by mairust backup) " + line.split("=", 1)[0] + "\n"
        lines.append(line)
    redacted = "".join(lines)
    if _secret_keys(redacted):
        raise BackupRefused(
            "the config file holds the master key in a form the backup cannot leave out: "
            "move it to MAIRUST_SECRETS__KEY, or pass --include-master-key"
        )
    return redacted


def _secret_keys(text: str) -> bool:
    try:
        secrets = tomllib.loads(text).get("secrets", {})
    except tomllib.TOMLDecodeError as error:
        raise BackupRefused(f"the config file is not valid TOML: {error}") from error
    return bool(secrets.get("key") or secrets.get("previous_keys"))


def data_files(data_dir: Path, exclude: Path) -> Iterator[Path]:
    """The data dir's files to back up, relative to it (not the stores, not ``exclude``)."""
    if not data_dir.is_dir():
        return
    for child in sorted(data_dir.iterdir()):
        if _STORE_NAMES.fullmatch(child.name) or _inside(child, exclude):
            continue
        if child.is_file():
            yield child.relative_to(data_dir)
        elif child.is_dir():
            for path in sorted(child.rglob("*")):
                if path.is_file() and not _inside(path, exclude):
                    yield path.relative_to(data_dir)


def existing_data_files(source: Path, data_dir: Path) -> list[Path]:
    """The files of ``data_dir`` that restoring the backed-up ``source`` would replace."""
    return [
        data_dir / path.relative_to(source)
        for path in sorted(source.rglob("*"))
        if path.is_file() and (data_dir / path.relative_to(source)).exists()
    ]


def restore_data_files(source: Path, data_dir: Path, force: bool) -> int:
    """Copy the backed-up data dir files into ``data_dir``; how many."""
    if not force and (existing := existing_data_files(source, data_dir)):
        raise BackupRefused(f"{existing[0]} exists: restore with --force to replace it")
    copied = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        target = data_dir / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve() == directory or directory in path.resolve().parents
