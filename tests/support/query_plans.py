"""The query plan of the ordered SELECT a store call runs, on SQLite or PostgreSQL: for tests
that a listing pages from an index instead of sorting every row it could match.

PostgreSQL is told not to sort when it can avoid it (``enable_sort = off``), so a tiny test
table cannot hide a missing index behind a cheap sort; a sort it cannot avoid still shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event


def plan_of_ordered_select(engine: Engine, call: Callable[[], object]) -> list[str]:
    """The plan lines of the one SELECT with ORDER BY that ``call`` runs on ``engine``."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if len(seen) != 1:
        raise AssertionError(f"expected one ordered SELECT, saw {len(seen)}: {seen}")
    [(statement, parameters)] = seen
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_sort = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            return [str(row[0]) for row in rows]
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return [str(row[-1]) for row in rows]


def sorts(plan: list[str]) -> bool:
    """Whether the plan sorts rows (SQLite's temporary B-tree, PostgreSQL's Sort node)."""
    return any("TEMP B-TREE" in line or "Sort" in line for line in plan)
