"""The release before this code, for the rolling-upgrade scenario.

"The release before" is the code without the newest migration: the parent of the commit
that added the head revision's file (followed through renames, so a renumbering on merge
does not move it), or, while that file is not committed yet, the committed HEAD
(``MAIRUST_TEST_UPGRADE_FROM=<commit>`` names another, e.g. two releases back). Its tree
is extracted with ``git archive`` into a directory and run from there with this venv:
``PYTHONPATH`` puts the old packages before the editable install of this checkout (whose
finder comes after the path on ``sys.path``), and the processes start in the old tree so
that ``sys.path[0]`` is the old code too (Ray hands the driver's path to its workers).

It needs the clone's history: a checkout without it (a shallow clone, an exported tree) is
a failure that says so, never a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from mairust.storage.sql_migrations import head_revision, script_directory

REPO = Path(__file__).resolve().parents[2]
# What `mairust up` imports or reads from its checkout.
PACKAGES = ("mairust", "actors", "serve", "cluster", "load", "plugins")
# Run like the `mairust` console script, from the old tree.
# Names another commit to upgrade from (e.g. two releases back) instead of the one before.
FROM_VARIABLE = "MAIRUST_TEST_UPGRADE_FROM"
MAIRUST_MAIN = "import sys; from cluster.cli import main; sys.argv[0] = 'mairust'; main()"


class MissingHistory(AssertionError):
    """The checkout lacks the git history the scenario needs."""


@dataclass(frozen=True, slots=True)
class PreviousRelease:
    commit: str
    tree: Path
    head: str  # the newest migration revision of that code

    @property
    def program(self) -> tuple[str, ...]:
        """The old code's `mairust` command (run it with ``env`` and ``cwd=tree``)."""
        return (sys.executable, "-c", MAIRUST_MAIN)

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "PYTHONPATH": str(self.tree)}


def previous_release(into: Path) -> PreviousRelease:
    """Extract the release before this code into ``into`` (created)."""
    newest = Path(script_directory().get_revision(head_revision()).path).relative_to(REPO)
    _check_history()
    added = _git("log", "--follow", "--diff-filter=A", "--format=%H", "--", str(newest))
    if os.environ.get(FROM_VARIABLE):  # an older release asked for by name
        commit = _git("rev-parse", "--verify", f"{os.environ[FROM_VARIABLE]}^{{commit}}")
    elif added:
        commit = _git("rev-parse", "--verify", f"{added.split()[-1]}^")
    else:  # the newest migration is not committed yet: HEAD is the code without it
        commit = _git("rev-parse", "--verify", "HEAD")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "--", *PACKAGES],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return PreviousRelease(commit, into, _old_head(into))


def _check_history() -> None:
    if not (REPO / ".git").exists():
        raise MissingHistory(
            f"{REPO} is not a git checkout: the rolling-upgrade scenario runs the release "
            "before this one, taken from the history (use a full `git clone`)"
        )
    if _git("rev-parse", "--is-shallow-repository") == "true":
        raise MissingHistory(
            f"{REPO} is a shallow clone: the rolling-upgrade scenario needs the commit "
            "before the newest migration (`git fetch --unshallow`, or clone without --depth)"
        )


def _old_head(tree: Path) -> str:
    """The old code's head revision, asked of the old code itself (which also shows that
    PYTHONPATH really makes a process import the old tree)."""
    asked = subprocess.run(
        [
            sys.executable,
            "-c",
            "import mairust; from mairust.storage.sql_migrations import head_revision; "
            "print(mairust.__file__); print(head_revision())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    location, head = asked.stdout.split()
    if not Path(location).is_relative_to(tree):
        raise AssertionError(f"the old code's process imported {location}, not {tree}")
    return head


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise MissingHistory(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()
