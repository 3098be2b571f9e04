"""Scenario: the README's walkthrough, followed literally, does what it says.

The shell blocks of "## Try it" are read from README.md and run one command at a time
against a private `mairust up` (its ports and data directory swapped in for the README's
defaults; the `make up` line is what the fixture does). The messages listing shows the
swaks message, the search for `hello` finds it, and the tenant admin it creates can log in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.delivery_audit import queue_counts, server_settings
from tests.support.mairust_server import MairustServer, wait_for

ROOT = Path(__file__).resolve().parents[2]
MARKER = "@@walkthrough-command-done@@"


def walkthrough_commands() -> list[str]:
    """The commands of the shell blocks in the README's "Try it" section, continuation
    lines joined, comments and `make up` dropped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#") and not command.startswith("make "):
                commands.append(command)
    return commands


def localised(command: str, server, venv_bin: Path) -> str:
    return (
        command.replace("--port 2525", f"--port {server.smtp_port}")
        .replace("127.0.0.1:8000", f"127.0.0.1:{server.api_port}")
        .replace(".venv/bin/", f"{venv_bin}/")
    )


def run_script(commands: list[str], server: MairustServer, venv_bin: Path, cwd: Path) -> list[str]:
    """``commands`` in one shell, as a reader types them (a variable set carries over); a
    marker after each splits the output per command."""
    script = "set -e\n" + "".join(
        f"{localised(command, server, venv_bin)}\necho\necho {MARKER}\n" for command in commands
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=server.env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    return result.stdout.split(MARKER + "\n")[: len(commands)]


class ReadmeServer(MairustServer):
    """`mairust up` as the README runs it: no MAIRUST_ADMIN_TOKEN, so the token is generated
    into the data directory, where the walkthrough reads it."""

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MAIRUST_ADMIN_TOKEN", None)
        return env


def test_the_readme_walkthrough_returns_what_it_says(tmp_path: Path) -> None:
    commands = walkthrough_commands()
    assert len(commands) >= 7, commands  # user add, swaks, token, 2 curls, tenant admin, log-in
    workdir = tmp_path / "walk"
    workdir.mkdir()
    # The README's data directory is ./.mairust, relative to where the commands run.
    server = ReadmeServer(data_dir=workdir / ".mairust")
    try:
        server.start()
        venv_bin = Path(sys.executable).parent
        # A reader sends the mail, then looks: the message is delivered by the time the
        # next command runs (the test waits for the queue where a person would take a breath).
        sent_at = next(i for i, command in enumerate(commands) if command.startswith("swaks"))
        outputs = run_script(commands[: sent_at + 1], server, venv_bin, workdir)
        settings = server_settings(server.data_dir, None)
        wait_for(lambda: queue_counts(settings)["done"] == 1, timeout=60, what="delivery")
        outputs += run_script(commands[sent_at + 1 :], server, venv_bin, workdir)
        by_command = dict(zip(commands, outputs, strict=True))
        listing = next(out for cmd, out in by_command.items() if "/api/v1/messages?" in cmd)
        subjects = [item["subject"] for item in json.loads(listing)["items"]]
        assert subjects == ["Hello Alice"], listing
        found = next(out for cmd, out in by_command.items() if "/api/v1/search?q=hello" in cmd)
        assert [item["subject"] for item in json.loads(found)["items"]] == ["Hello Alice"]
        login = next(out for cmd, out in by_command.items() if "/api/v1/auth/token" in cmd)
        token = json.loads(login)
        assert token["token"].startswith("mrt_") and token["role"] == "tenant_admin"
        server.stop()
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill9()
