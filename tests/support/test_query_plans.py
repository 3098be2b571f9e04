"""The plan helper tells an indexed ORDER BY from a sorted one (SQLite; the storage tests
use it on PostgreSQL too, where a missing index fails them)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.support.query_plans import plan_of_ordered_select, sorts


def test_an_indexed_order_reads_the_index_and_another_sorts(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a INTEGER, b INTEGER)")
        conn.exec_driver_sql("CREATE INDEX ix_t_a ON t (a)")

    def ordered_by(column: str) -> None:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT a, b FROM t ORDER BY {column} DESC LIMIT 5")).all()

    assert not sorts(plan_of_ordered_select(engine, lambda: ordered_by("a")))
    assert sorts(plan_of_ordered_select(engine, lambda: ordered_by("b")))
    engine.dispose()
