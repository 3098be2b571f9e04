"""Stdin plugins for tests: a small Python child speaking the line protocol (its behaviour
chosen per call by its configuration), and the bundled Rust plugin, built by the project's
build script (cached outside the clone; a failed build fails the test, never skips it) and
laid out as a package directory ready to install."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER_RULES_RS = ROOT / "plugins" / "header_rules_rs"
BUILD_SCRIPT = ROOT / ".ci" / "build-rust-plugins.sh"

# The child's behaviour is its configuration's "mode":
#   answer: a verdict at once (config "verdict", "tags", "reply"); its reason names its pid
#   hold:   keeps calls until it holds config["batch"] of them, then answers them last first
#   silent: never answers
#   exit:   exits (code 3) on reading the call
#   long:   answers with a line of config["size"] bytes (padding in the reason)
#   error:  answers an error;  junk: answers a response that is no hook response
# Each call line it reads is appended to the file named by its first argument, if any.
CHILD = textwrap.dedent(
    """
    import json, os, sys

    seen = open(sys.argv[1], "a") if len(sys.argv) > 1 else None
    print("child", os.getpid(), "ready", file=sys.stderr, flush=True)
    held = []

    def send(answer):
        sys.stdout.write(json.dumps(answer) + "\\n")
        sys.stdout.flush()

    for line in sys.stdin:
        call = json.loads(line)
        if seen:
            seen.write(line)
            seen.flush()
        config, call_id = call["config"], call["id"]
        mode = config.get("mode", "answer")
        if mode == "exit":
            sys.exit(3)
        if mode == "silent":
            continue
        if mode == "error":
            send({"id": call_id, "error": "asked to fail"})
        elif mode == "junk":
            send({"id": call_id, "response": {"verdict": "maybe"}})
        elif mode == "long":
            send({"id": call_id, "response": {"reason": "x" * config["size"]}})
        elif mode == "hold":
            held.append(call_id)
            if len(held) == config["batch"]:
                for waiting in reversed(held):
                    send({"id": waiting, "response": {"tags": [str(waiting)]}})
                held.clear()
        else:
            response = {
                "verdict": config.get("verdict", "continue"),
                "reason": f"pid {os.getpid()}",
                "tags": config.get("tags", []),
            }
            if "reply" in config:
                response["reply"] = config["reply"]
            send({"id": call_id, "response": response})
    """
)


def python_child(directory: Path) -> list[str]:
    """Writes the child into ``directory``; its command line (no log of calls)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "child.py").write_text(CHILD)
    return [sys.executable, str(directory / "child.py")]


@functools.cache
def rust_plugin_binary() -> Path:
    """The header-rules-rs binary, built (or found up to date) by the build script."""
    built = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1200, check=False
    )
    assert built.returncode == 0, f"the Rust plugin did not build:\n{built.stderr}"
    binary = Path(built.stdout.split()[0])
    assert binary.name == "header-rules-rs" and binary.is_file(), built.stdout
    return binary


def header_rules_rs_package(base: Path) -> Path:
    """A directory to install header-rules-rs from: its manifest, README and binary."""
    package = base / "header_rules_rs"
    (package / "bin").mkdir(parents=True)
    for name in ("plugin.toml", "README.md"):
        shutil.copy(HEADER_RULES_RS / name, package / name)
    shutil.copy(rust_plugin_binary(), package / "bin" / "header-rules-rs")
    return package
