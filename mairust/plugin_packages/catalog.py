"""A catalog's ``index.json``: the signed packages it offers, and which one to install.

The index is one JSON document (read as hostile input, strictly)::

    {"format": "mairust-plugin-catalog/1",
     "packages": [{"name": "header-rules", "version": "1.1.0",
                   "description": "...", "file": "header-rules-1.1.0.tar.gz",
                   "sha256": "<hex>", "key_id": "acme-2026",
                   "requires_mairust": ">=0.1,<0.3", "transport": "serve",
                   "hooks": ["pre_receive"], "scopes": ["headers"],
                   "permissions": ["tag", "reject"], "changelog": "..."}]}

``file`` is relative to the index (no ``..``, no absolute path, no URL); the package's
detached signature is ``file + ".sig"`` beside it. ``requires_mairust`` is a PEP 440
specifier ("" : any version), copied from the package's manifest by :func:`build_index`, as
are the transport, hook points, scopes, permissions and changelog (optional: older indexes
lack them).
:func:`choose` picks the newest version of a plugin this MaiRust runs, and refuses with a
message naming both versions when there is none.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path, PurePosixPath

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mairust.errors import InvalidInput, NotFound
from mairust.hooks.manifest import load_manifest
from mairust.plugin_packages.archive import PACKAGE_SUFFIX, unpack
from mairust.plugin_packages.signing import PackageSignature, file_sha256, signature_path

INDEX_NAME = "index.json"
INDEX_FORMAT = "mairust-plugin-catalog/1"
MAX_INDEX_BYTES = 4 * 1024 * 1024


class CatalogError(InvalidInput):
    """A catalog index that cannot be used, or a request it cannot satisfy."""


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")
    version: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=500)
    file: str = Field(min_length=1, max_length=300)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    requires_mairust: str = Field("", max_length=200)
    # What the manifest declares, so an operator can read what a plugin would be given
    # and may answer before installing it (absent from indexes built before they were).
    transport: str = Field("", max_length=20)
    hooks: list[str] = Field(default_factory=list, max_length=20)
    scopes: list[str] = Field(default_factory=list, max_length=20)
    permissions: list[str] = Field(default_factory=list, max_length=20)
    changelog: str = Field("", max_length=20_000)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"{value!r} is not a version") from None
        return value

    @field_validator("requires_mairust")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"{value!r} is not a PEP 440 specifier") from None
        return value

    @field_validator("file")
    @classmethod
    def _relative_file(cls, value: str) -> str:
        path = PurePosixPath(value)
        if (
            path.is_absolute()
            or ".." in path.parts
            or not re.fullmatch(r"[A-Za-z0-9._/+-]+", value)
            or not value.endswith(PACKAGE_SUFFIX)
        ):
            raise ValueError(f"{value!r} is not a package file name relative to the index")
        return value

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    def supports(self, mairust_version: str) -> bool:
        return SpecifierSet(self.requires_mairust).contains(mairust_version, prereleases=True)


class CatalogIndex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str
    packages: list[CatalogEntry] = Field(default_factory=list, max_length=10_000)

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != INDEX_FORMAT:
            raise ValueError(f"this MaiRust reads {INDEX_FORMAT} catalogs, not {value!r}")
        return value

    def search(self, term: str = "") -> list[CatalogEntry]:
        """Entries whose name or description holds ``term`` (any case), by name, newest
        version first."""
        wanted = term.lower()
        found = [
            entry
            for entry in self.packages
            if wanted in entry.name.lower() or wanted in entry.description.lower()
        ]
        newest_first = sorted(found, key=lambda e: e.parsed_version, reverse=True)
        return sorted(newest_first, key=lambda e: e.name)  # stable: newest first per name


def parse_index(text: bytes) -> CatalogIndex:
    """The index in ``text``; CatalogError saying what is wrong otherwise."""
    if len(text) > MAX_INDEX_BYTES:
        raise CatalogError(f"the catalog index is larger than {MAX_INDEX_BYTES} bytes")
    try:
        return CatalogIndex.model_validate_json(text)
    except ValidationError as error:
        faults = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'index'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        raise CatalogError(f"the catalog index is not valid: {faults}") from None


def choose(
    index: CatalogIndex, name: str, mairust_version: str, newer_than: str | None = None
) -> CatalogEntry:
    """The newest version of ``name`` that ``mairust_version`` runs (and, for an upgrade,
    newer than ``newer_than``). NotFound when the catalog has no such plugin; CatalogError
    naming the versions when none fits."""
    versions = [entry for entry in index.packages if entry.name == name]
    if not versions:
        raise NotFound(f"the catalog has no plugin {name!r}")
    fitting = [entry for entry in versions if entry.supports(mairust_version)]
    if not fitting:
        newest = max(versions, key=lambda e: e.parsed_version)
        raise CatalogError(
            f"{name} {newest.version} needs MaiRust {newest.requires_mairust}; this is "
            f"MaiRust {mairust_version}, which no version of {name} in the catalog supports"
        )
    best = max(fitting, key=lambda e: e.parsed_version)
    if newer_than is not None and best.parsed_version <= Version(newer_than):
        newest = max(versions, key=lambda e: e.parsed_version)
        if newest.parsed_version > Version(newer_than):
            raise CatalogError(
                f"{name} {newest.version} needs MaiRust {newest.requires_mairust}; this is "
                f"MaiRust {mairust_version}, and {newer_than} is the newest it runs"
            )
    return best


def build_index(directory: Path) -> CatalogIndex:
    """The index of the signed packages in ``directory`` (``*.tar.gz`` with their ``.sig``),
    each described from its own manifest; writes nothing. A package without a signature,
    or whose manifest cannot be read, is an error naming it."""
    entries: list[CatalogEntry] = []
    for package in sorted(directory.glob("*" + PACKAGE_SUFFIX)):
        sig = signature_path(package)
        if not sig.is_file():
            raise CatalogError(f"{package.name} has no signature ({sig.name}): sign it first")
        signature = PackageSignature.parse(sig.read_bytes())
        digest = file_sha256(package)
        if signature.sha256 != digest:
            raise CatalogError(f"{sig.name} is not the signature of {package.name} as it is now")
        with tempfile.TemporaryDirectory(prefix="mairust-catalog-") as scratch:
            unpacked = Path(scratch) / "package"
            unpack(package, unpacked)
            manifest = load_manifest(unpacked)
        entries.append(
            CatalogEntry(
                name=manifest.plugin.name,
                version=manifest.plugin.version,
                description=manifest.plugin.description,
                file=package.name,
                sha256=digest,
                key_id=signature.key_id,
                requires_mairust=manifest.plugin.requires_mairust,
                transport=manifest.transport.kind.value,
                hooks=[hook.point.value for hook in manifest.hooks],
                scopes=[scope.value for scope in manifest.scopes],
                permissions=[permission.value for permission in manifest.permissions],
                changelog=manifest.plugin.changelog,
            )
        )
    return CatalogIndex(format=INDEX_FORMAT, packages=entries)


def write_index(directory: Path, index: CatalogIndex) -> Path:
    target = directory / INDEX_NAME
    payload = index.model_dump(mode="json")
    target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return target
