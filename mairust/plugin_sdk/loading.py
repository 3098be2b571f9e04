"""Loading a plugin's ``Plugin`` object from its package directory and entrypoint
(``"module:attribute"``, the module relative to the directory).

The directory is imported as a package under a name of its own (``mairust_plugin_<name>``),
so the plugin's relative imports work wherever its files are kept, and two plugins'
modules never meet under one name.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path

from mairust.plugin_sdk.plugin import Plugin


def package_name(plugin: str) -> str:
    return "mairust_plugin_" + re.sub(r"\W", "_", plugin)


def load_plugin(directory: Path, entrypoint: str, plugin: str) -> Plugin:
    """The ``Plugin`` at ``entrypoint`` in the package in ``directory``."""
    module_path, _, attribute = entrypoint.partition(":")
    if not module_path or not attribute:
        raise ValueError(f"entrypoint {entrypoint!r} is not module:attribute")
    package = package_name(plugin)
    init = directory / "__init__.py"
    spec: importlib.machinery.ModuleSpec | None
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            package, init, submodule_search_locations=[str(directory)]
        )
    else:  # a namespace package: just the directory
        spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
        spec.submodule_search_locations = [str(directory)]
    if spec is None:
        raise ImportError(f"cannot import the plugin package in {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    if spec.loader is not None:
        spec.loader.exec_module(module)
    found = getattr(importlib.import_module(f"{package}.{module_path}"), attribute, None)
    if not isinstance(found, Plugin):
        raise TypeError(f"{entrypoint} in {directory} is no mairust.plugin_sdk.Plugin")
    return found
