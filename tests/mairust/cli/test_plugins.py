"""``mairust plugin ...`` and ``mairust hook ...`` as an operator runs them: install from a
directory, configure, enable, bind, change, unbind, upgrade, uninstall; a bad manifest or
configuration is one clear line and exit code 1."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli import plugins as plugin_commands
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.model.plugins import BreakerReport, HookCall
from tests.support.bola import MATRIX_PLUGIN, matrix_plugin_dir

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands' console was sized when it was imported (by the terminal of the test
    run, 80 columns in CI): give the tables room, as COLUMNS=200 does for a fresh one."""
    monkeypatch.setattr(plugin_commands.console, "width", 200)


def run(data_dir: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # as a line, however the terminal wrapped it


def test_the_plugin_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    installed = run(data, "plugin", "install", str(matrix_plugin_dir(tmp_path, "1.0.0")))
    assert f"installed {MATRIX_PLUGIN} 1.0.0 (enabled)" in installed
    # Names and ids are never cut short, whatever the terminal's width (other columns may be).
    assert MATRIX_PLUGIN in run(data, "plugin", "list")
    hooks = run(data, "hook", "list", "--point", "rcpt_to")
    [binding] = re.findall(r"\b([0-9A-Z]{26})\b", hooks)
    assert "disabled" in run(data, "plugin", "disable", MATRIX_PLUGIN)
    assert "enabled" in run(data, "plugin", "enable", MATRIX_PLUGIN)
    assert "disabled" not in run(data, "plugin", "configure", MATRIX_PLUGIN, '{"any": 1}')
    bound = run(
        data, "hook", "bind", MATRIX_PLUGIN, "rcpt_to", "--mode", "shadow", "--priority", "3"
    )
    assert "(shadow)" in bound
    changed = run(data, "hook", "change", binding, "--priority", "7", "--disabled")
    assert "priority 7, enforce, disabled" in changed
    assert f"unbound {binding}" in run(data, "hook", "unbind", binding)
    upgraded = run(
        data, "plugin", "upgrade", MATRIX_PLUGIN, str(matrix_plugin_dir(tmp_path, "1.1.0"))
    )
    assert "to 1.1.0" in upgraded
    assert f"uninstalled {MATRIX_PLUGIN}" in run(data, "plugin", "uninstall", MATRIX_PLUGIN)
    assert MATRIX_PLUGIN not in run(data, "plugin", "list")


def test_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = run(data, "plugin", "install", str(tmp_path / "nowhere"), code=1)
    assert "no such directory or package file" in missing and "Traceback" not in missing
    run(data, "plugin", "install", str(matrix_plugin_dir(tmp_path, "1.0.0")))
    not_json = run(data, "plugin", "configure", MATRIX_PLUGIN, "{nope", code=1)
    assert "not JSON" in not_json
    wrong_point = run(data, "hook", "bind", MATRIX_PLUGIN, "pre_receive", code=1)
    assert "does not declare the pre_receive hook" in wrong_point
    assert "no plugin 'ghost'" in run(data, "plugin", "enable", "ghost", code=1)


def test_figures_show_the_calls_and_the_circuit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "plugin", "install", str(matrix_plugin_dir(tmp_path, "1.0.0")))
    assert "circuit breakers: none has opened" in run(data, "plugin", "figures", MATRIX_PLUGIN)
    settings = Settings(data_dir=data)
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with opened_stores(settings) as stores:
        stores.metadata.record_hook_calls(
            [HookCall("c1", at, "rcpt_to", MATRIX_PLUGIN, "enforce", "answered", "reject", 3.0)]
        )
        stores.metadata.report_breaker(
            BreakerReport(MATRIX_PLUGIN, "smtp@h:1", "open", at, 30.0, 2)
        )
    shown = run(data, "plugin", "figures", MATRIX_PLUGIN)
    cells = " ".join(re.sub(r"[\u2500-\u257f]", " ", shown).split())  # no box drawing
    assert "rcpt_to enforce 1 answered 1 reject 1 3 5 5" in cells
    assert "circuit in smtp@h:1: open since 2026-11-30T12:00:00+00:00" in shown
    assert "one trial call after 12:00:30 (opened 2 times)" in shown
    assert "no plugin 'ghost'" in run(data, "plugin", "figures", "ghost", code=1)


def test_secrets_are_set_from_stdin_listed_by_name_and_deleted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    directory = matrix_plugin_dir(tmp_path, "1.0.0", ("api-key",))
    assert "installed OFF" in run(data, "plugin", "install", str(directory))

    def secret(*args: str, stdin: str | None = None, code: int = 0) -> str:
        result = runner.invoke(
            app,
            ["plugin", "secret", *args, "--data-dir", str(data)],
            input=stdin,
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())

    assert "api-key │ no" in secret("list", MATRIX_PLUGIN)
    assert "secret api-key set" in secret("set", MATRIX_PLUGIN, "api-key", stdin="sk-cli\n")
    listed = secret("list", MATRIX_PLUGIN)
    assert "api-key │ yes" in listed and "sk-cli" not in listed
    assert "enabled" in run(data, "plugin", "enable", MATRIX_PLUGIN)
    assert "does not name a secret 'x'" in secret("set", MATRIX_PLUGIN, "x", stdin="v", code=1)
    assert "empty" in secret("set", MATRIX_PLUGIN, "api-key", stdin="", code=1)
    assert "secret api-key deleted" in secret("delete", MATRIX_PLUGIN, "api-key")
    listed = run(data, "plugin", "list")  # it needs the secret: off again
    assert f"{MATRIX_PLUGIN} │ 1.0.0 │ no │" in listed
