"""load_plugin: the Plugin at module:attribute in a package directory, imported under a
name of its own (relative imports work, with or without an __init__.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.plugin_sdk import Plugin
from mairust.plugin_sdk.loading import load_plugin, package_name

ENGINE = "def verdict():\n    return 'engine'\n"
PLUGIN = """
from mairust.plugin_sdk import Plugin
from .engine import verdict

plugin = Plugin("pkg")
not_a_plugin = 42
"""


@pytest.mark.parametrize("with_init", [True, False], ids=["package", "namespace"])
def test_the_entrypoint_in_the_directory(tmp_path: Path, with_init: bool) -> None:
    name = f"loader-{'pkg' if with_init else 'ns'}"
    (tmp_path / "plugin.py").write_text(PLUGIN)
    (tmp_path / "engine.py").write_text(ENGINE)
    if with_init:
        (tmp_path / "__init__.py").write_text("")
    found = load_plugin(tmp_path, "plugin:plugin", name)
    assert isinstance(found, Plugin) and found.name == "pkg"
    assert package_name(name) == f"mairust_plugin_loader_{'pkg' if with_init else 'ns'}"


def test_an_entrypoint_that_is_no_plugin(tmp_path: Path) -> None:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    (tmp_path / "engine.py").write_text(ENGINE)
    with pytest.raises(TypeError, match=r"is no mairust\.plugin_sdk\.Plugin"):
        load_plugin(tmp_path, "plugin:not_a_plugin", "loader-bad")
    with pytest.raises(ValueError, match="is not module:attribute"):
        load_plugin(tmp_path, "plugin", "loader-bad")
    with pytest.raises(ModuleNotFoundError):
        load_plugin(tmp_path, "missing:plugin", "loader-bad")
