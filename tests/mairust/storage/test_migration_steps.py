"""Every migration keeps the phase it declares (docs/scale-out/upgrades.md), on SQLite and
on PostgreSQL: an empty database is migrated one revision at a time and the schema read
with SQLAlchemy's inspector before and after each step (tests.support.schema_steps).

An expand step must keep every expand rule. A contract step must break one (else it is an
expand step and says so), say why, and, since the rule exists, name an ``oldest_code``
before itself: the release before it must keep running on what it leaves."""

from __future__ import annotations

from mairust.storage.schema_revisions import CONTRACT, EXPAND
from mairust.storage.sql_migrations import head_revision, script_directory
from tests.support.schema_steps import Step, walk_steps

# The revision that brought the rule: contract steps before it were barriers (no older
# code runs on them), and each says so in its reason.
RULE_SINCE = "0032"
# What the walk finds in the two steps written before the rule that broke it.
BROKE_THE_RULE = {
    "0009": {
        "adds entries.thread_id NOT NULL without a server default",
        "adds entries.header_references NOT NULL without a server default",
    },
    "0026": {"drops or renames table domain_dkim_keys"},
}


def test_every_step_keeps_its_declared_phase(empty_url: str) -> None:
    steps = walk_steps(empty_url)
    assert steps[-1].phase.revision == head_revision()
    order = [step.phase.revision for step in steps]
    problems = [problem for step in steps for problem in _problems(step, order)]
    assert problems == [], "\n".join(problems)
    broke = {s.phase.revision: set(s.violations) for s in steps if s.phase.phase == CONTRACT}
    assert broke == BROKE_THE_RULE


def _problems(step: Step, order: list[str]) -> list[str]:
    revision, found = step.phase.revision, "; ".join(step.violations)
    if step.phase.phase == EXPAND:
        return [f"{revision} is marked expand but {found}"] if step.violations else []
    if not step.violations:
        return [f"{revision} is marked contract but keeps every expand rule: mark it expand"]
    declared = script_directory().get_revision(revision).module.oldest_code
    since_rule = order.index(revision) >= order.index(RULE_SINCE)
    if since_rule and order.index(declared) >= order.index(revision):
        return [
            f"{revision} is a contract step no older code may run on (oldest_code "
            f"{declared}): remove only what the release before already stopped using, and "
            f"name that release's revision in oldest_code"
        ]
    return []
