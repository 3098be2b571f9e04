"""The phase of each migration and the rule for a schema newer than the code: code runs on
a database a newer release migrated when every newer step lets it (expand, or a contract
whose oldest_code is at or before this code's head), and refuses, saying why, when not."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from mairust.storage.schema_revisions import (
    CONTRACT,
    Relation,
    SchemaTooNew,
    declared_phases,
)
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_metadata import SqlMetadataStore
from mairust.storage.sql_migrations import (
    alembic_config,
    current_revision,
    head_revision,
    schema_verdict,
    script_directory,
    upgrade_to_head,
)
from mairust.storage.sql_schema import schema_revisions
from tests.support.future_migrations import FutureStep, future_migrations


def test_each_revision_declares_its_phase_and_the_oldest_code_that_runs_on_it() -> None:
    phases = declared_phases(script_directory())
    assert phases[-1].revision == head_revision()
    floors = {phase.revision: phase.oldest_code for phase in phases}
    # 0009 and 0026 broke the code before them (written before the rule): barriers.
    assert {p.revision for p in phases if p.phase == CONTRACT} == {"0009", "0026"}
    assert (floors["0001"], floors["0008"], floors["0009"], floors["0025"]) == (
        "0001",
        "0001",
        "0009",
        "0009",
    )
    assert floors["0026"] == floors["0031"] == floors[head_revision()] == "0026"
    assert all(p.reason for p in phases if p.phase == CONTRACT)


def test_migrating_records_the_phases_of_the_chain(metadata_url: str) -> None:
    engine = create_sql_engine(metadata_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(schema_revisions)).all()
    finally:
        engine.dispose()
    expected = declared_phases(script_directory())
    assert sorted(tuple(row) for row in rows) == sorted(
        (p.revision, p.down_revision, p.phase, p.oldest_code, p.reason) for p in expected
    )


def test_code_runs_on_a_schema_a_newer_release_expanded(empty_url: str, tmp_path: Path) -> None:
    newer = future_migrations(tmp_path / "newer", FutureStep("9001"), FutureStep("9002"))
    upgrade_to_head(empty_url, migrations_dir=newer)

    found = upgrade_to_head(empty_url)  # this code starts on it: no error, nothing changed

    assert (found.relation, found.may_run, found.database) == (Relation.AHEAD, True, "9002")
    assert "9001 (expand), 9002 (expand)" in found.explanation, found.explanation
    assert current_revision(empty_url) == "9002"
    assert schema_verdict(empty_url) == found
    store = SqlMetadataStore(empty_url)
    try:  # and its stores work there
        tenant = store.create_tenant("after-the-upgrade")
        assert [t.id for t in store.list_tenants()] == [tenant.id]
    finally:
        store.close()


def test_code_refuses_a_schema_contracted_past_it(empty_url: str, tmp_path: Path) -> None:
    newer = future_migrations(
        tmp_path / "newer", FutureStep("9001"), FutureStep("9002", CONTRACT, oldest_code="9001")
    )
    upgrade_to_head(empty_url, migrations_dir=newer)

    with pytest.raises(SchemaTooNew) as refused:
        upgrade_to_head(empty_url)

    message = str(refused.value)
    assert f"ahead of this code ({head_revision()})" in message, message
    assert "9001 (expand), 9002 (contract) need code of 9001 or later" in message, message
    found = schema_verdict(empty_url)
    assert (found.relation, found.may_run, found.oldest_code) == (Relation.AHEAD, False, "9001")
    assert current_revision(empty_url) == "9002"


def test_a_contract_that_names_this_code_as_oldest_lets_it_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    newer = future_migrations(
        tmp_path / "newer",
        FutureStep("9001"),
        FutureStep("9002", CONTRACT, oldest_code=head_revision()),
    )
    upgrade_to_head(url, migrations_dir=newer)
    found = upgrade_to_head(url)
    assert (found.relation, found.may_run, found.oldest_code) == (
        Relation.AHEAD,
        True,
        head_revision(),
    )


def test_a_revision_nobody_recorded_is_refused(metadata_url: str) -> None:
    engine = create_sql_engine(metadata_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaTooNew, match=r"at f00d, which this code .* does not know"):
        upgrade_to_head(metadata_url)
    assert schema_verdict(metadata_url).relation is Relation.UNKNOWN


@pytest.mark.parametrize(
    ("at", "stays"),
    [("0030", "code of 0030 may keep running beside it"), ("0025", "may NOT run")],
)
def test_a_schema_behind_says_whether_its_code_may_stay(
    tmp_path: Path, at: str, stays: str
) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_sql_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), at)
    finally:
        engine.dispose()
    found = schema_verdict(url)
    assert (found.relation, found.may_run, found.database) == (Relation.BEHIND, True, at)
    assert stays in found.explanation, found.explanation
    assert upgrade_to_head(url).relation is Relation.BEHIND
    assert current_revision(url) == head_revision()


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (FutureStep("9001", phase=None), 'must declare phase = "expand" or "contract"'),
        (FutureStep("9001", "shrink"), "got 'shrink'"),
        (FutureStep("9001", CONTRACT, oldest_code="0031", reason=""), "must say why"),
        (FutureStep("9001", CONTRACT, oldest_code="9999"), "name oldest_code"),
    ],
)
def test_a_migration_that_does_not_declare_its_phase_stops_the_upgrade(
    tmp_path: Path, step: FutureStep, words: str
) -> None:
    newer = future_migrations(tmp_path / "newer", step)
    with pytest.raises(ValueError, match=words):
        declared_phases(script_directory(newer))
    with pytest.raises(ValueError, match=words):
        upgrade_to_head(f"sqlite:///{tmp_path / 'm.db'}", migrations_dir=newer)
