"""``mairust db status`` and ``mairust db upgrade``: the schema's revision against this
code's head, and whether they may run together, on an embedded database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from typer.testing import CliRunner

from cluster.cli import app
from mairust.storage.schema_revisions import CONTRACT
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_migrations import alembic_config, head_revision, upgrade_to_head
from tests.support.future_migrations import FutureStep, future_migrations


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_status_and_upgrade_from_nothing_then_from_an_older_revision(tmp_path: Path) -> None:
    where = ("--data-dir", str(tmp_path))
    code, output = _run("db", "status", *where)
    assert code == 0, output
    assert "schema       (none)" in output and f"code head    {head_revision()}" in output

    code, output = _run("db", "upgrade", *where)
    assert code == 0, output
    assert f"created the schema at {head_revision()}" in output
    assert "relation     same" in output and "may run      yes" in output

    code, output = _run("db", "upgrade", *where)
    assert (code, output.splitlines()[0]) == (0, f"already at {head_revision()}")

    older = tmp_path / "older"
    engine = create_sql_engine(f"sqlite:///{older / 'metadata.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0030")
    finally:
        engine.dispose()
    code, output = _run("db", "status", "--data-dir", str(older))
    assert code == 0, output
    assert "relation     behind: this code upgrades it by 0031 (expand)" in output
    assert "code of 0030 may keep running beside it" in output
    code, output = _run("db", "upgrade", "--data-dir", str(older))
    assert code == 0, output
    assert f"upgraded 0030 to {head_revision()}: this code upgrades it by" in output


def test_a_schema_a_newer_release_contracted_is_refused_with_exit_1(tmp_path: Path) -> None:
    newer = future_migrations(
        tmp_path / "newer", FutureStep("9001"), FutureStep("9002", CONTRACT, oldest_code="9001")
    )
    data = tmp_path / "data"
    data.mkdir()
    upgrade_to_head(f"sqlite:///{data / 'metadata.db'}", migrations_dir=newer)

    code, output = _run("db", "status", "--data-dir", str(data))
    assert code == 1, output
    assert "schema       9002" in output and "relation     ahead" in output
    assert "oldest code  9001" in output and "may run      no" in output

    code, output = _run("db", "upgrade", "--data-dir", str(data))
    assert code == 1, output
    assert "error: metadata schema at 9002 is ahead of this code" in " ".join(output.split())


def test_a_schema_a_newer_release_expanded_is_left_alone_and_run_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    newer = future_migrations(tmp_path / "newer", FutureStep("9001"))
    upgrade_to_head(f"sqlite:///{data / 'metadata.db'}", migrations_dir=newer)

    code, output = _run("db", "status", "--data-dir", str(data))
    assert code == 0, output
    assert "relation     ahead: newer migrations 9001 (expand)" in output
    assert "may run      yes" in output
    code, output = _run("db", "upgrade", "--data-dir", str(data))
    assert code == 0, output
    assert output.splitlines()[0] == f"left at 9001: ahead of this code ({head_revision()})"
