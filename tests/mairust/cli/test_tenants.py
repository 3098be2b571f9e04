"""``mairust tenant add|set|list`` with ``--home-region``, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.config import Settings
from mairust.storage.factory import open_stores
from tests.support.regions import write_regions

runner = CliRunner()


def run(tmp_path: Path, *args: str, config: Path | None = None) -> tuple[int, str]:
    options = ["--data-dir", str(tmp_path / "data")]
    if config is not None:
        options += ["--config", str(config)]
    result = runner.invoke(app, [*args, *options])
    return result.exit_code, result.output


def homes(tmp_path: Path) -> dict[str, str | None]:
    stores = open_stores(Settings(data_dir=tmp_path / "data").storage)
    try:
        return {t.name: t.home_region for t in stores.metadata.list_tenants()}
    finally:
        stores.close()


def region_a_config(tmp_path: Path) -> Path:
    regions = write_regions(tmp_path / "regions.toml", "a")
    config = tmp_path / "mairust.toml"
    config.write_text(f'[regions]\nfile = "{regions}"\n')
    return config


def test_tenants_get_their_home_region_from_the_command_line(tmp_path: Path) -> None:
    config = region_a_config(tmp_path)
    code, output = run(tmp_path, "tenant", "add", "away", "--home-region", "b", config=config)
    assert code == 0 and "home b" in output, output
    assert run(tmp_path, "tenant", "add", "here", config=config)[0] == 0
    code, output = run(tmp_path, "tenant", "set", "here", "--home-region", "b", config=config)
    assert code == 0 and "home b" in output, output
    code, output = run(tmp_path, "tenant", "set", "away", config=config)  # home: this region
    assert code == 0 and "home this region" in output, output
    assert homes(tmp_path) == {"away": None, "here": "b"}
    code, output = run(tmp_path, "tenant", "list", config=config)
    assert code == 0 and "here" in output and "this region" in output, output


def test_what_the_regions_config_does_not_allow_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    config = region_a_config(tmp_path)
    code, output = run(tmp_path, "tenant", "add", "lost", "--home-region", "z", config=config)
    assert code == 1 and "'z'" in output, output
    # Without a regions config there is no other region to name.
    code, output = run(tmp_path, "tenant", "add", "away", "--home-region", "b")
    assert code == 1 and "regions config" in output, output
    assert run(tmp_path, "domain", "add", "held.test", "--tenant", "held")[0] == 0
    assert run(tmp_path, "user", "add", "u@held.test")[0] == 0
    code, output = run(tmp_path, "tenant", "set", "held", "--home-region", "b", config=config)
    assert code == 1 and "mailbox" in output, output
    code, output = run(tmp_path, "tenant", "set", "nobody", "--home-region", "b", config=config)
    assert code == 1 and "nobody" in output, output
    assert homes(tmp_path) == {"held": None}
