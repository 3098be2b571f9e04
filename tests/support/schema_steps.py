"""The schema before and after each migration step, read with SQLAlchemy's inspector, and
the rules an expand step keeps (docs/scale-out/upgrades.md): the code of the revision
before it must still run on what it leaves.

An expand step may add tables, nullable columns, columns with a server default, indexes,
and rows; it may not drop or rename a table or column, make a column NOT NULL, add a NOT
NULL column without a server default to an existing table, drop the server default of a
NOT NULL column, change a column's type other than to a wider one, change a primary key,
or add a uniqueness or a foreign key over columns the code before already writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from mairust.storage.schema_revisions import RevisionPhase, declared_phases
from mairust.storage.sql_engine import create_sql_engine
from mairust.storage.sql_migrations import MIGRATIONS_DIR, alembic_config, script_directory

# Type changes that keep every value the code before writes (compiled type names).
WIDER = {
    "SMALLINT": {"INTEGER", "BIGINT"},
    "INTEGER": {"BIGINT"},
    "REAL": {"DOUBLE PRECISION", "FLOAT"},
    "VARCHAR": {"TEXT"},
}


@dataclass(frozen=True, slots=True)
class Column:
    type: str
    nullable: bool
    server_default: bool


@dataclass(frozen=True, slots=True)
class Table:
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    uniques: frozenset[tuple[str, ...]]
    foreign_keys: frozenset[tuple[tuple[str, ...], str, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class Step:
    """One migration step: its declared phase and what the expand rules found in it."""

    phase: RevisionPhase
    violations: list[str] = field(default_factory=list)


def snapshot(conn: Connection) -> dict[str, Table]:
    """Every table of the database (Alembic's own left out), as the inspector sees it."""
    inspector = sa.inspect(conn)
    names = [name for name in inspector.get_table_names() if name != "alembic_version"]
    columns = inspector.get_multi_columns(filter_names=names)
    keys = inspector.get_multi_pk_constraint(filter_names=names)
    uniques = inspector.get_multi_unique_constraints(filter_names=names)
    indexes = inspector.get_multi_indexes(filter_names=names)
    foreign = inspector.get_multi_foreign_keys(filter_names=names)
    tables = {}
    for (schema, name), described in columns.items():
        unique_sets = {tuple(u["column_names"]) for u in uniques.get((schema, name), [])}
        unique_sets |= {
            tuple(str(c) for c in ix["column_names"])
            for ix in indexes.get((schema, name), [])
            if ix["unique"]
        }
        tables[name] = Table(
            columns={
                c["name"]: Column(
                    _type_name(c["type"], conn.dialect),
                    bool(c["nullable"]),
                    c.get("default") is not None,
                )
                for c in described
            },
            primary_key=tuple(keys[(schema, name)]["constrained_columns"]),
            uniques=frozenset(unique_sets),
            foreign_keys=frozenset(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in foreign.get((schema, name), [])
            ),
        )
    return tables


def expand_violations(before: dict[str, Table], after: dict[str, Table]) -> list[str]:
    """What in the step from ``before`` to ``after`` the code of ``before`` may not survive."""
    found = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            found.append(f"drops or renames table {name}")
            continue
        found += _column_violations(name, old, new)
        if new.primary_key != old.primary_key:
            found.append(f"changes the primary key of {name}")
        added = set(new.columns) - set(old.columns)
        for unique in new.uniques - old.uniques:
            if not added & set(unique):
                found.append(f"adds a uniqueness over existing columns {name}{unique}")
        for columns, referred, _ in new.foreign_keys - old.foreign_keys:
            if not added & set(columns):
                found.append(f"adds a foreign key {name}{columns} -> {referred}")
    return found


def _column_violations(table: str, old: Table, new: Table) -> list[str]:
    found = []
    for name, was in old.columns.items():
        now = new.columns.get(name)
        where = f"{table}.{name}"
        if now is None:
            found.append(f"drops or renames column {where}")
            continue
        if now.type != was.type and not _wider(was.type, now.type):
            found.append(f"changes the type of {where} from {was.type} to {now.type}")
        if was.nullable and not now.nullable:
            found.append(f"makes {where} NOT NULL")
        if not now.nullable and was.server_default and not now.server_default:
            found.append(f"drops the server default of NOT NULL {where}")
    for name in set(new.columns) - set(old.columns):
        column = new.columns[name]
        if not column.nullable and not column.server_default:
            found.append(f"adds {table}.{name} NOT NULL without a server default")
    return found


def walk_steps(url: str, migrations_dir: Path = MIGRATIONS_DIR) -> list[Step]:
    """Migrate the empty database at ``url`` one revision at a time, from nothing to the
    head, and check each step against the expand rules."""
    phases = declared_phases(script_directory(migrations_dir))
    engine = create_sql_engine(url)
    steps = []
    try:
        before = _snapshot_of(engine)
        for phase in phases:
            with engine.begin() as conn:
                command.upgrade(alembic_config(conn, migrations_dir), phase.revision)
            after = _snapshot_of(engine)
            steps.append(Step(phase, expand_violations(before, after)))
            before = after
    finally:
        engine.dispose()
    return steps


def _snapshot_of(engine: sa.Engine) -> dict[str, Table]:
    with engine.connect() as conn:  # a new connection: the inspector caches what it read
        return snapshot(conn)


def _type_name(type_: sa.types.TypeEngine[object], dialect: sa.Dialect) -> str:
    return str(type_.compile(dialect=dialect)).upper()


def _wider(was: str, now: str) -> bool:
    base_was, base_now = _base(was), _base(now)
    if base_was == base_now == "VARCHAR":
        return _length(now) is None or (_length(was) or 0) <= (_length(now) or 0)
    return base_now in WIDER.get(base_was, set())


def _base(type_name: str) -> str:
    return type_name.split("(", 1)[0].strip()


def _length(type_name: str) -> int | None:
    match = re.search(r"\((\d+)\)", type_name)
    return int(match.group(1)) if match else None
