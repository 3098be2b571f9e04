"""The catalog index: parsed strictly (format, file names relative and below the index,
digests, versions, specifiers), searched by name or description, the newest version this
MaiRust runs chosen, an incompatible one refused naming both versions, and built from a
directory of signed packages (an unsigned or re-packed one named)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mairust.errors import NotFound
from mairust.plugin_packages.catalog import (
    INDEX_FORMAT,
    CatalogError,
    CatalogIndex,
    build_index,
    choose,
    parse_index,
)
from mairust.plugin_packages.signing import file_sha256
from tests.support.plugin_packages import Publisher, header_rules_at, signed_package

DIGEST = "ab" * 32


def entry(
    version: str, requires: str = "", name: str = "header-rules", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "description": f"{name} rules",
        "file": f"{name}-{version}.tar.gz",
        "sha256": DIGEST,
        "key_id": "acme",
        "requires_mairust": requires,
        **extra,
    }


def index(*entries: dict[str, Any]) -> CatalogIndex:
    return parse_index(json.dumps({"format": INDEX_FORMAT, "packages": list(entries)}).encode())


def test_a_valid_index_parses() -> None:
    parsed = index(entry("1.0.0"), entry("1.1.0", ">=0.1"))
    assert [e.version for e in parsed.packages] == ["1.0.0", "1.1.0"]
    assert parsed.packages[1].supports("0.1.0") and not parsed.packages[1].supports("0.0.9")


@pytest.mark.parametrize(
    ("document", "fault"),
    [
        ({"format": "other/2", "packages": []}, "reads mairust-plugin-catalog/1"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", file="../x.tar.gz")]}, "file"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", file="/x.tar.gz")]}, "file"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", file="http://e/x.tar.gz")]}, "file"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", sha256="xyz")]}, "sha256"),
        ({"format": INDEX_FORMAT, "packages": [entry("not a version")]}, "not a version"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", ">>0.1")]}, "PEP 440"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", extra_key=1)]}, "extra"),
        ({"format": INDEX_FORMAT, "packages": [entry("1.0.0", name="Bad_Name")]}, "name"),
    ],
)
def test_a_bad_index_is_refused_saying_why(document: dict[str, Any], fault: str) -> None:
    with pytest.raises(CatalogError, match=fault):
        parse_index(json.dumps(document).encode())


def test_not_json_and_oversized_indexes_are_refused() -> None:
    with pytest.raises(CatalogError, match=r"not valid"):
        parse_index(b"{nope")
    with pytest.raises(CatalogError, match=r"larger than"):
        parse_index(b" " * (5 * 1024 * 1024))


def test_search_filters_by_name_or_description_newest_first() -> None:
    parsed = index(entry("1.0.0"), entry("1.10.0"), entry("1.2.0"), entry("2.0.0", name="dnsbl"))
    assert [(e.name, e.version) for e in parsed.search()] == [
        ("dnsbl", "2.0.0"),
        ("header-rules", "1.10.0"),
        ("header-rules", "1.2.0"),
        ("header-rules", "1.0.0"),
    ]
    assert {e.name for e in parsed.search("DNSBL RULES")} == {"dnsbl"}
    assert parsed.search("nothing like it") == []


def test_the_newest_compatible_version_is_chosen() -> None:
    parsed = index(entry("1.0.0"), entry("1.2.0", ">=0.1,<0.2"), entry("2.0.0", ">=0.5"))
    assert choose(parsed, "header-rules", "0.1.0").version == "1.2.0"
    assert choose(parsed, "header-rules", "0.5.1").version == "2.0.0"
    with pytest.raises(NotFound, match=r"no plugin 'ghost'"):
        choose(parsed, "ghost", "0.1.0")


def test_an_incompatible_plugin_is_refused_naming_both_versions() -> None:
    parsed = index(entry("3.0.0", ">=9.0"))
    with pytest.raises(CatalogError) as refused:
        choose(parsed, "header-rules", "0.1.0")
    assert str(refused.value) == (
        "header-rules 3.0.0 needs MaiRust >=9.0; this is MaiRust 0.1.0, "
        "which no version of header-rules in the catalog supports"
    )


def test_an_upgrade_past_what_this_mairust_runs_says_so() -> None:
    parsed = index(entry("1.0.0"), entry("2.0.0", ">=9.0"))
    with pytest.raises(CatalogError, match=r"2\.0\.0 needs MaiRust >=9\.0; this is MaiRust 0\.1"):
        choose(parsed, "header-rules", "0.1.0", newer_than="1.0.0")
    # Nothing newer at all: the installed one is the answer (the caller says "up to date").
    assert choose(index(entry("1.0.0")), "header-rules", "0.1.0", "1.0.0").version == "1.0.0"


def test_an_index_is_built_from_signed_packages(tmp_path: Path) -> None:
    publisher = Publisher.make(tmp_path / "keys", "acme")
    catalog = tmp_path / "catalog"
    first = signed_package(header_rules_at(tmp_path, "1.0.0"), catalog, publisher)
    signed_package(header_rules_at(tmp_path, "1.1.0", ">=0.1,<1"), catalog, publisher)
    built = build_index(catalog)
    assert [(e.version, e.requires_mairust, e.key_id) for e in built.packages] == [
        ("1.0.0", "", "acme"),
        ("1.1.0", ">=0.1,<1", "acme"),
    ]
    assert built.packages[0].sha256 == file_sha256(first)
    assert built.packages[0].file == "header-rules-1.0.0.tar.gz"
    first.write_bytes(first.read_bytes() + b"\0")
    with pytest.raises(CatalogError, match=r"not the signature of header-rules-1.0.0"):
        build_index(catalog)
    signed_package(header_rules_at(tmp_path, "1.2.0"), catalog, None)
    first.with_name(first.name + ".sig").unlink()
    with pytest.raises(CatalogError, match=r"has no signature"):
        build_index(catalog)
