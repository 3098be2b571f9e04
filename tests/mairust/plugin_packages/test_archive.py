"""Packing is deterministic and leaves caches out; unpacking refuses every hostile member
kind (links, devices, FIFOs, absolute paths, ``..``, duplicates) and every bound (package
size, unpacked size, member count, a decompression bomb) before writing outside the
target, and a well-formed package comes back byte for byte."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from mairust.plugin_packages.archive import PackageRefused, UnpackLimits, pack, unpack
from tests.support.plugin_packages import HEADER_RULES, header_rules_at

MANIFEST = HEADER_RULES / "plugin.toml"


def test_the_same_directory_packs_to_the_same_bytes(tmp_path: Path) -> None:
    source = header_rules_at(tmp_path, "1.0.0")
    first = pack(source)
    # Other times, another owner's mode bits, caches: none of it changes the package.
    os.utime(source / "plugin.py", (1_000_000, 1_000_000))
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "plugin.cpython-311.pyc").write_bytes(b"cache")
    (source / "stale.pyc").write_bytes(b"cache")
    assert pack(source) == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert "plugin.toml" in [m.name for m in members]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert first[4:8] == b"\x00\x00\x00\x00"  # the gzip header's time
    (source / "plugin.py").write_text((source / "plugin.py").read_text() + "\n# changed\n")
    assert pack(source) != first


def test_an_executable_keeps_its_bit_and_nothing_else(tmp_path: Path) -> None:
    source = header_rules_at(tmp_path, "1.0.0")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o4775)
    package = tmp_path / "p.tar.gz"
    package.write_bytes(pack(source))
    unpack(package, tmp_path / "out")
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "out" / "plugin.py").stat().st_mode & 0o7777 == 0o644


def test_packing_refuses_symlinks_and_non_plugins(tmp_path: Path) -> None:
    source = header_rules_at(tmp_path, "1.0.0")
    (source / "escape").symlink_to("/etc/passwd")
    with pytest.raises(PackageRefused, match=r"symbolic link"):
        pack(source)
    with pytest.raises(PackageRefused, match=r"holds no plugin.toml"):
        pack(tmp_path / "nothing-here")


def test_a_package_unpacks_byte_for_byte(tmp_path: Path) -> None:
    package = tmp_path / "p.tar.gz"
    package.write_bytes(pack(HEADER_RULES))
    unpack(package, tmp_path / "out")
    for name in ("plugin.toml", "plugin.py", "README.md"):
        assert (tmp_path / "out" / name).read_bytes() == (HEADER_RULES / name).read_bytes()


def hostile(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    """A .tar.gz holding a good plugin.toml and then ``members`` as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        manifest = MANIFEST.read_bytes()
        info = tarfile.TarInfo("plugin.toml")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        for member, content in members:
            member.size = len(content) if member.isreg() else 0
            tar.addfile(member, io.BytesIO(content) if member.isreg() else None)
    path = tmp_path / "hostile.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (member("evil", tarfile.SYMTYPE, "/etc/passwd"), "symbolic link"),
        (member("hard", tarfile.LNKTYPE, "plugin.toml"), "hard link"),
        (member("tty", tarfile.CHRTYPE), "device"),
        (member("disk", tarfile.BLKTYPE), "device"),
        (member("pipe", tarfile.FIFOTYPE), "FIFO"),
        (member("/etc/cron.d/evil"), "absolute path"),
        (member("../evil.py"), r"climbs out"),
        (member("lib/../../evil.py"), r"climbs out"),
        (member("win\\evil.py"), "backslash"),
        (member("plugin.toml"), "twice"),
    ],
    ids=lambda v: v.name if isinstance(v, tarfile.TarInfo) else None,
)
def test_hostile_members_are_refused(tmp_path: Path, entry: tarfile.TarInfo, reason: str) -> None:
    package = hostile(tmp_path, (entry, b"x"))
    with pytest.raises(PackageRefused, match=reason):
        unpack(package, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()
    assert not (tmp_path / "out").exists()  # nothing half-unpacked stays


def test_bounds_are_enforced(tmp_path: Path) -> None:
    package = hostile(tmp_path, (member("big.bin"), b"\0" * 5000))
    with pytest.raises(PackageRefused, match=r"exceed 4096 bytes"):
        unpack(package, tmp_path / "a", UnpackLimits(max_unpacked_bytes=4096))
    with pytest.raises(PackageRefused, match=r"is \d+ bytes \(at most 100\)"):
        unpack(package, tmp_path / "b", UnpackLimits(max_package_bytes=100))
    many = hostile(tmp_path, *((member(f"f{i}"), b"") for i in range(5)))
    with pytest.raises(PackageRefused, match=r"more than 3 members"):
        unpack(many, tmp_path / "c", UnpackLimits(max_members=3))


def test_a_decompression_bomb_stops_at_the_bound(tmp_path: Path) -> None:
    """A pax header counts toward no file's size, and zeros compress a thousandfold: the
    decompressed stream itself is cut off at its bound, not read into memory."""
    info = tarfile.TarInfo("plugin.toml")
    info.pax_headers = {"comment": "0" * (16 * 1024 * 1024)}
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    assert bomb.stat().st_size < 100_000
    limits = UnpackLimits(max_unpacked_bytes=1024 * 1024, max_members=10)
    with pytest.raises(PackageRefused, match=r"unpacks to more than it may hold"):
        unpack(bomb, tmp_path / "out", limits)


def test_what_is_not_a_package_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    with pytest.raises(PackageRefused, match=r"not a .tar.gz package"):
        unpack(junk, tmp_path / "a")
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(PackageRefused, match=r"holds no plugin.toml"):
        unpack(empty, tmp_path / "b")
