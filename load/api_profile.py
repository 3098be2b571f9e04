"""Where an API replica spends its time: a short py-spy recording of one process (collapsed
stacks, py-spy's ``raw`` format) and its summary by the library each sample was in.

Only the thread holding the GIL is sampled: the replica is one Python process, so that is
where its CPU goes (waits in the database driver or on sockets release the GIL and do not
show). Each sample is charged to the innermost frame that belongs to a known library (the
``mairust`` core, SQLAlchemy, the database driver, FastAPI, Starlette, pydantic, strawberry,
Ray Serve, ...), so "fastapi 12 %" means 12 % of the on-CPU samples were executing
FastAPI's own code, not code it called; the inclusive share counts every sample with a frame
of that library anywhere on its stack (what it and everything it called cost).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Matched against a frame's file path, first match wins (more specific names first).
LIBRARIES = (
    ("mairust", "/mairust/"),
    ("strawberry (GraphQL)", "/strawberry/"),
    ("graphql-core", "/graphql/"),
    ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"),
    ("pydantic", "/pydantic"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("sqlite3", "/sqlite3/"),
    ("psycopg", "/psycopg"),
    ("opensearch-py / urllib3", "/opensearchpy/"),
    ("opensearch-py / urllib3", "/urllib3/"),
    ("boto3 / botocore", "/botocore/"),
    ("boto3 / botocore", "/boto3/"),
    ("ray serve", "/ray/serve/"),
    ("ray core", "/ray/"),
    ("uvicorn", "/uvicorn/"),
    ("anyio (thread pool)", "/anyio/"),
    ("email (parsing)", "/email/"),
    ("asyncio", "/asyncio/"),
    ("json", "/json/"),
    ("threading / concurrent", "/threading.py"),
    ("threading / concurrent", "/concurrent/"),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def library_of(frame: str) -> str | None:
    found = _FRAME.match(frame.strip())
    if found is None:
        return None
    # py-spy names a file by its path under sys.path ("sqlalchemy/engine/base.py").
    path = "/" + found.group("file").lstrip("/")
    for name, marker in LIBRARIES:
        if marker in path:
            return name
    return None


def summarize_collapsed(text: str) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """(samples, by library of the innermost known frame, by library anywhere on the stack,
    by innermost function) of collapsed stacks."""
    total = 0
    by_library: Counter[str] = Counter()
    on_stack: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        library = next((lib for f in reversed(frames) if (lib := library_of(f))), "other")
        by_library[library] += count
        for name in {lib for f in frames if (lib := library_of(f))}:
            on_stack[name] += count
        leaf = _FRAME.match(frames[-1].strip())
        where = frames[-1] if leaf is None else f"{leaf.group('function')} ({leaf.group('file')})"
        by_function[_short(where)] += count
    return total, by_library, on_stack, by_function


def _short(frame: str) -> str:
    """A frame without the site-packages / checkout prefix of its file path."""
    return re.sub(r"\(.*?/(site-packages|lib/python3\.\d+)/", "(", frame)


def profile_table(text: str, top: int = 12) -> str:
    total, by_library, on_stack, by_function = summarize_collapsed(text)
    if not total:
        return "(no samples)"
    lines = [
        f"{total} samples.",
        "",
        "| library | innermost (self) | on the stack (inclusive) |",
        "|---|---:|---:|",
    ]
    for name in sorted(
        set(by_library) | set(on_stack), key=lambda n: (-by_library[n], -on_stack[n])
    ):
        own, anywhere = 100 * by_library[name] / total, 100 * on_stack[name] / total
        lines.append(f"| {name} | {own:.0f} % | {anywhere:.0f} % |")
    lines += ["", "| hottest functions (self) | share |", "|---|---:|"]
    for name, count in by_function.most_common(top):
        lines.append(f"| `{name}` | {100 * count / total:.1f} % |")
    return "\n".join(lines)


def py_spy_command() -> str | None:
    """py-spy from the project's venv, else beside the running interpreter (a worktree run
    with another checkout's venv has none of its own), else on ``PATH``."""
    for folder in (
        Path(__file__).resolve().parents[1] / ".venv" / "bin",
        Path(sys.executable).parent,
    ):
        if (folder / "py-spy").exists():
            return str(folder / "py-spy")
    return shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` for ``seconds`` into ``output``: only the thread holding the
    GIL (``--gil``), so a sample is Python code running, not a pool thread waiting."""
    command = py_spy_command()
    if command is None:
        return None
    args = [command, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    args += ["--format", "raw", "--output", str(output), "--rate", "200", "--gil"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
