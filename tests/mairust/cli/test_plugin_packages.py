"""``mairust plugin keygen|pack|sign|install|upgrade|search`` and ``plugin catalog build``
as a publisher and an operator run them: a key pair, a package packed and signed, a
catalog built, the key trusted in the config; install from the file and by name, search,
upgrade from the catalog; every refusal one clear line and exit code 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster.cli import app
from mairust.cli import plugins as plugin_commands
from tests.support.plugin_packages import header_rules_at

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin_commands.console, "width", 200)


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return " ".join(re.sub(r"[│┃]", " ", result.output).split())  # table cells as words


def operator(tmp_path: Path, *args: str, code: int = 0) -> str:
    data, config = tmp_path / "data", tmp_path / "mairust.toml"
    return run(*args, "--data-dir", str(data), "--config", str(config), code=code)


def configure(tmp_path: Path, public: str | None, catalog: Path, unsigned: bool = False) -> None:
    keys = f'{{ acme = "{public}" }}' if public else "{}"
    (tmp_path / "mairust.toml").write_text(
        f"[plugins]\ntrusted_keys = {keys}\ncatalog = {json.dumps(str(catalog))}\n"
        f"allow_unsigned_files = {'true' if unsigned else 'false'}\n"
    )


def test_publish_then_install_search_and_upgrade(tmp_path: Path) -> None:
    keys, catalog = tmp_path / "keys", tmp_path / "catalog"
    made = run("plugin", "keygen", "acme", "-o", str(keys))
    [public] = re.findall(r'acme = "([A-Za-z0-9+/=]{44})"', made)
    assert "keep it secret" in made
    catalog.mkdir()
    for version in ("1.0.0", "1.1.0"):
        package = catalog / f"header-rules-{version}.tar.gz"
        source = header_rules_at(tmp_path, version)
        assert f"into {package}" in run("plugin", "pack", str(source), "-o", str(package))
        signed = run("plugin", "sign", str(package), "--key", str(keys / "acme.key"))
        assert f"with key acme: {package}.sig" in signed
    incompatible = header_rules_at(tmp_path, "9.0.0", requires_mairust=">=99")
    run("plugin", "pack", str(incompatible), "-o", str(catalog / "header-rules-9.0.0.tar.gz"))
    run(
        "plugin",
        "sign",
        str(catalog / "header-rules-9.0.0.tar.gz"),
        "--key",
        str(keys / "acme.key"),
    )
    assert "3 packages" in run("plugin", "catalog", "build", str(catalog))
    configure(tmp_path, public, catalog)

    found = operator(tmp_path, "plugin", "search", "header")
    assert "header-rules 9.0.0 >=99 no acme" in found
    assert "header-rules 1.1.0 any yes acme" in found
    assert "no plugin in the catalog matches" in operator(tmp_path, "plugin", "search", "zzz")

    installed = operator(tmp_path, "plugin", "install", str(catalog / "header-rules-1.0.0.tar.gz"))
    assert "installed header-rules 1.0.0 (enabled)" in installed
    assert "upgraded header-rules to 1.1.0" in operator(
        tmp_path, "plugin", "upgrade", "header-rules"
    )
    # Only 9.0.0 is newer, and it needs another MaiRust: refused, naming both versions.
    refused = operator(tmp_path, "plugin", "upgrade", "header-rules", code=1)
    assert "error: header-rules 9.0.0 needs MaiRust >=99; this is MaiRust 0.1.0" in refused
    assert "1.1.0 is the newest it runs" in refused
    (catalog / "header-rules-9.0.0.tar.gz").unlink()
    run("plugin", "catalog", "build", str(catalog))
    assert "nothing to upgrade" in operator(tmp_path, "plugin", "upgrade", "header-rules")
    operator(tmp_path, "plugin", "uninstall", "header-rules")
    by_name = operator(tmp_path, "plugin", "install", "header-rules")
    assert "installed header-rules 1.1.0" in by_name
    assert (tmp_path / "data" / "plugin-cache" / "header-rules-1.1.0.tar.gz").is_file()


def test_refusals_are_one_clear_line(tmp_path: Path) -> None:
    keys, catalog = tmp_path / "keys", tmp_path / "catalog"
    run("plugin", "keygen", "acme", "-o", str(keys))
    assert "exists already" in run("plugin", "keygen", "acme", "-o", str(keys), code=1)
    catalog.mkdir()
    package = catalog / "hr.tar.gz"
    run("plugin", "pack", str(header_rules_at(tmp_path, "1.0.0")), "-o", str(package))
    configure(tmp_path, None, catalog)
    unsigned = operator(tmp_path, "plugin", "install", str(package), code=1)
    assert "error: hr.tar.gz is not signed" in unsigned
    assert "has no signature" in run("plugin", "catalog", "build", str(catalog), code=1)
    run("plugin", "sign", str(package), "--key", str(keys / "acme.key"))
    unknown = operator(tmp_path, "plugin", "install", str(package), code=1)
    assert "signed by key 'acme', which is not trusted" in unknown
    assert "index.json" in operator(tmp_path, "plugin", "install", "ghost", code=1)
    run("plugin", "catalog", "build", str(catalog))
    assert "no plugin 'ghost'" in operator(tmp_path, "plugin", "install", "ghost", code=1)
    assert "plugin.toml is not valid: cannot read" in run("plugin", "pack", str(tmp_path), code=1)
    assert "is not a file" in run("plugin", "sign", str(tmp_path / "x"), "--key", "k", code=1)
    configure(tmp_path, None, catalog, unsigned=True)
    (catalog / "hr.tar.gz.sig").unlink()
    assert "installed header-rules 1.0.0" in operator(tmp_path, "plugin", "install", str(package))


def test_the_help_explains(tmp_path: Path) -> None:
    assert "signed package file" in run("plugin", "install", "--help")
    assert "trusted_keys" in run("plugin", "keygen", "--help")
    assert "deterministic" in run("plugin", "pack", "--help")
    assert "detached signature" in run("plugin", "sign", "--help")
    assert "index.json" in run("plugin", "catalog", "build", "--help")
    assert "runs each" in run("plugin", "search", "--help")
