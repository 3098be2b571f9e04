"""The admin UI says each scope, permission, transport and hook point of a manifest in
plain words (web/src/plugins/words.ts). This fails when a bundled plugin's manifest, or the
platform's closed vocabulary itself, uses a word that table does not know, and when the
table keeps a word the platform no longer has."""

from __future__ import annotations

import enum
import re
import tomllib
from pathlib import Path

import pytest

from mairust.hooks.manifest import TransportKind
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import DataScope, HookPoint

REPO = Path(__file__).resolve().parents[2]
WORDS = REPO / "web" / "src" / "plugins" / "words.ts"
MANIFESTS = sorted((REPO / "plugins").glob("*/plugin.toml"))


def table(name: str) -> set[str]:
    """The keys of `export const NAME ... = { ... };` in words.ts."""
    source = WORDS.read_text(encoding="utf-8")
    found = re.search(rf"export const {name}\b[^=]*=\s*\{{(.*?)\n\}};", source, re.S)
    assert found, f"{name} is not in {WORDS}"
    return set(re.findall(r'^\s*"?([a-z_-]+)"?:', found.group(1), re.M))


def test_every_bundled_manifest_is_said_in_words() -> None:
    assert MANIFESTS, "no manifest found under plugins/"
    scopes, permissions = table("SCOPE_WORDS"), table("PERMISSION_WORDS")
    transports, points = table("TRANSPORT_WORDS"), table("POINT_WORDS")
    for path in MANIFESTS:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
        where = path.relative_to(REPO)
        assert set(manifest.get("scopes", [])) <= scopes, f"{where}: a scope words.ts lacks"
        assert set(manifest.get("permissions", [])) <= permissions, f"{where}: a permission"
        assert manifest["transport"]["kind"] in transports, f"{where}: its transport"
        assert {h["point"] for h in manifest["hooks"]} <= points, f"{where}: a hook point"


@pytest.mark.parametrize(
    ("name", "vocabulary"),
    [
        ("SCOPE_WORDS", DataScope),
        ("PERMISSION_WORDS", HookPermission),
        ("TRANSPORT_WORDS", TransportKind),
        ("POINT_WORDS", HookPoint),
    ],
)
def test_the_tables_are_the_platforms_vocabulary(name: str, vocabulary: type[enum.Enum]) -> None:
    assert table(name) == {member.value for member in vocabulary}
