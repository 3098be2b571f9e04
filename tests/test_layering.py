"""The dependency rule of DESIGN §4: the core never imports Ray or the Ray-side packages,
and inside the core a layer imports only from the layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "mairust"
FORBIDDEN_IN_CORE = ("ray", "actors", "serve", "cluster")
# Top to bottom; a module may import its own layer and the layers above it.
LAYERS = [
    {
        "config",
        "errors",
        "events",
        "passwords",
        "supervision",
        "token_bucket",
        "micro_batch",
        "__init__",
        "disk_space",
        "telemetry",
        "log_format",
        "pool_sizing",
    },
    {"model"},
    {"auth", "routing", "net"},
    {"storage"},
    {
        "search",
        "spool",
        "secrets",
        "webhooks",
        "hooks",
        "plugin_sdk",
        "leased_loop",
        "plugin_packages",
        "outbound",
        "regions",
    },
    {"smtp"},
    {"pipeline"},
    {"services", "backup"},
    {"api"},
    {"cli"},
]


def layer_of(name: str) -> int:
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"mairust.{name} is in no layer: add it to LAYERS and the docs")


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_never_imports_ray_side() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in core_modules()
        for name in imports_of(path)
        if name.split(".")[0] in FORBIDDEN_IN_CORE
    ]
    assert offenders == []


def test_core_layers_import_only_upwards() -> None:
    offenders = []
    for path in core_modules():
        own = path.relative_to(CORE).parts[0].removesuffix(".py")
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] != "mairust" or len(parts) < 2:
                continue
            if layer_of(parts[1]) > layer_of(own):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import ray\nfrom mairust.api import create_app\n")
    assert imports_of(module) == ["ray", "mairust.api"]
    assert layer_of("api") > layer_of("storage")
