"""The expand rules of tests.support.schema_steps, on real SQLite schemas changed by DDL:
each change an expand step may not make is reported, each one it may make is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.storage.sql_engine import create_sql_engine
from tests.support.schema_steps import expand_violations, snapshot

BEFORE = [
    "CREATE TABLE parents (id TEXT PRIMARY KEY)",
    "CREATE TABLE notes (id TEXT PRIMARY KEY, parent TEXT, body TEXT NOT NULL, "
    "size INTEGER NOT NULL DEFAULT 0, label VARCHAR(20))",
]


def _violations(tmp_path: Path, *change: str) -> list[str]:
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with engine.begin() as conn:
            for statement in BEFORE:
                conn.exec_driver_sql(statement)
        with engine.connect() as conn:
            before = snapshot(conn)
        with engine.begin() as conn:
            for statement in change:
                conn.exec_driver_sql(statement)
        with engine.connect() as conn:
            return expand_violations(before, snapshot(conn))
    finally:
        engine.dispose()


def _rebuilt(columns: str, *extra: str) -> list[str]:
    """SQLite cannot alter a column: the table is rebuilt with ``columns``, as Alembic's
    batch mode does."""
    return [
        f"CREATE TABLE notes_new ({columns}{''.join(extra)})",
        "DROP TABLE notes",
        "ALTER TABLE notes_new RENAME TO notes",
    ]


SAME = "id TEXT PRIMARY KEY, parent TEXT, body TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, "


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (["DROP TABLE notes"], "drops or renames table notes"),
        (["ALTER TABLE notes RENAME TO memos"], "drops or renames table notes"),
        (["ALTER TABLE notes DROP COLUMN label"], "drops or renames column notes.label"),
        (  # a rename is a column gone and one new: old code writes the old name
            ["ALTER TABLE notes RENAME COLUMN body TO text"],
            "drops or renames column notes.body; adds notes.text NOT NULL without a server default",
        ),
        (
            ["ALTER TABLE notes ADD COLUMN kind TEXT NOT NULL DEFAULT 'x'", "DROP TABLE parents"],
            "drops or renames table parents",
        ),
        (_rebuilt(SAME + "label VARCHAR(20) NOT NULL"), "makes notes.label NOT NULL"),
        (
            _rebuilt(SAME.replace("DEFAULT 0", "") + "label VARCHAR(20)"),
            "drops the server default of NOT NULL notes.size",
        ),
        (
            _rebuilt(SAME.replace("size INTEGER", "size SMALLINT") + "label VARCHAR(20)"),
            "changes the type of notes.size from INTEGER to SMALLINT",
        ),
        (
            _rebuilt(SAME + "label VARCHAR(10)"),
            "changes the type of notes.label from VARCHAR(20) to VARCHAR(10)",
        ),
        (
            _rebuilt(SAME + "label VARCHAR(20), kind TEXT NOT NULL"),
            "adds notes.kind NOT NULL without a server default",
        ),
        (
            _rebuilt(SAME.replace("id TEXT PRIMARY KEY", "id TEXT") + "label VARCHAR(20)"),
            "changes the primary key of notes",
        ),
        (
            ["CREATE UNIQUE INDEX ux_notes_label ON notes (label)"],
            "adds a uniqueness over existing columns notes('label',)",
        ),
        (
            _rebuilt(SAME + "label VARCHAR(20)", ", FOREIGN KEY (parent) REFERENCES parents (id)"),
            "adds a foreign key notes('parent',) -> parents",
        ),
    ],
)
def test_what_an_expand_step_may_not_do_is_reported(
    tmp_path: Path, change: list[str], expected: str
) -> None:
    assert "; ".join(_violations(tmp_path, *change)) == expected


@pytest.mark.parametrize(
    "change",
    [
        ["CREATE TABLE tags (note TEXT NOT NULL REFERENCES notes (id), tag TEXT NOT NULL)"],
        ["ALTER TABLE notes ADD COLUMN seen BOOLEAN"],
        ["ALTER TABLE notes ADD COLUMN flags INTEGER NOT NULL DEFAULT 0"],
        ["CREATE INDEX ix_notes_label ON notes (label)"],
        ["INSERT INTO parents VALUES ('p1')"],
        _rebuilt(SAME.replace("size INTEGER", "size BIGINT") + "label TEXT"),
        _rebuilt(SAME.replace("body TEXT NOT NULL", "body TEXT") + "label VARCHAR(40)"),
        _rebuilt(SAME + "label VARCHAR(20), slug TEXT", ", UNIQUE (label, slug)"),
    ],
)
def test_what_an_expand_step_may_do_is_not_reported(tmp_path: Path, change: list[str]) -> None:
    assert _violations(tmp_path, *change) == []
