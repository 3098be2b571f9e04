"""``mairust dkim keygen|rotate|list`` on an embedded data dir, as an operator runs them: the
records to publish are printed, private keys never; an unknown domain is one error line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cluster.cli import app
from mairust.model.dkim_keys import DkimKeyState
from mairust.storage.sql_metadata import SqlMetadataStore

runner = CliRunner()


def _run(data: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_keygen_rotate_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(data, "domain", "add", "s.example")
    made = _run(data, "dkim", "keygen", "s.example")
    assert "mr" in made and "._domainkey.s.example. IN TXT v=DKIM1; k=rsa; p=MIIB" in made
    made_ed = _run(
        data, "dkim", "keygen", "s.example", "--algorithm", "ed25519", "--selector", "ed1"
    )
    assert "ed1._domainkey.s.example. IN TXT v=DKIM1; k=ed25519; p=" in made_ed
    rotated = _run(data, "dkim", "rotate", "s.example", "-a", "ed25519")
    assert "ed25519 key mr" in rotated and "k=ed25519" in rotated and "k=rsa" not in rotated
    listed = _run(data, "dkim", "list", "s.example")
    assert "ed1" in listed and "retired" in listed and listed.count("active") == 2
    for output in (made, made_ed, rotated, listed):
        assert "PRIVATE" not in output
    store = SqlMetadataStore(f"sqlite:///{data / 'metadata.db'}")
    try:
        keys = store.active_dkim_keys("s.example")
    finally:
        store.close()
    assert len(keys) == 2 and all(k.state is DkimKeyState.ACTIVE for k in keys)
    assert all(k.public_key in made + rotated for k in keys)


def test_an_unknown_domain_is_one_error_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dkim", "keygen", "nope.example", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a local domain: nope.example" in result.output
    assert "Traceback" not in result.output
