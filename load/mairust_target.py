"""The ``mairust up`` target of the accept-rate benchmark: recipients created with the CLI,
the platform started on free loopback ports (embedded, or on the stores a config names),
measured, stopped, and its spool's group-commit sizes read from its log."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from load.smtp_load import LoadConfig
from load.targets import (
    REPO_ROOT,
    TargetRun,
    free_loopback_port,
    measure,
    start_target,
    stop_process,
    wait_for_greeting,
)

log = logging.getLogger("load.bench_accept")

DOMAIN = "example.test"


def mairust_binary(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    venv_binary = REPO_ROOT / ".venv" / "bin" / "mairust"
    return str(venv_binary) if venv_binary.exists() else shutil.which("mairust")


@contextlib.contextmanager
def running_mairust_up(
    binary: str,
    data_dir: Path,
    smtp_port: int,
    config_file: Path | None = None,
    *,
    api_port: int | None = None,
    submission_port: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``mairust up`` on free loopback ports (or the ones given), its output in
    ``data_dir/mairust-up.log``; stopped with SIGINT (graceful shutdown) on the way out."""
    args = [
        binary,
        "up",
        "--data-dir",
        str(data_dir),
        "--smtp-port",
        str(smtp_port),
        "--submission-port",
        str(submission_port or free_loopback_port()),
        "--api-port",
        str(api_port or free_loopback_port()),
        "--domain",
        DOMAIN,
        # The spool's group-commit figures are an INFO line at stop.
        "--log-level",
        "INFO",
        *(["--config", str(config_file)] if config_file else []),
    ]
    log.info("starting %s", shlex.join(args))
    with (data_dir / "mairust-up.log").open("wb") as output:
        process = start_target(args, output)
        try:
            yield process
        finally:
            stop_process(process, signal.SIGINT, grace=60)


def log_tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def mairust_command(
    binary: str, data_dir: Path, args: Sequence[str], config_file: Path | None = None
) -> str | None:
    """Run ``mairust ARGS --data-dir DATA_DIR``; return what went wrong, if anything."""
    extra = ["--config", str(config_file)] if config_file else []
    done = subprocess.run(
        [binary, *args, "--data-dir", str(data_dir), *extra],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode(errors="replace").strip()
        last_line = output.splitlines()[-1] if output else f"status {done.returncode}"
        return f"`mairust {' '.join(args)}` failed: {last_line}"
    return None


def add_users(
    binary: str, data_dir: Path, addresses: Sequence[str], config_file: Path | None = None
) -> str | None:
    """Create the recipients with `mairust user add`; return what went wrong, if anything."""
    for address in addresses:
        problem = mairust_command(
            binary, data_dir, ["user", "add", address, "--create-domain"], config_file
        )
        if problem is not None:
            return problem
    return None


async def bench_mairust(
    binary: str | None,
    config: LoadConfig,
    warmup: int,
    repeat: int,
    startup: float,
    name: str = "mairust up (embedded)",
    config_file: Path | None = None,
) -> TargetRun:
    if binary is None:
        return TargetRun(name, None, "no mairust command found (.venv/bin/mairust or PATH)")
    with tempfile.TemporaryDirectory(prefix="mairust-bench-") as tmp:
        data_dir = Path(tmp)
        addresses = [config.to_pattern.format(n=n) for n in range(config.to_count)]
        problem = await asyncio.to_thread(add_users, binary, data_dir, addresses, config_file)
        if problem is not None:
            return TargetRun(name, None, problem)
        port = free_loopback_port()
        with running_mairust_up(binary, data_dir, port, config_file) as process:
            try:
                await wait_for_greeting(port, process, within_seconds=startup)
                run = await measure(name, replace(config, port=port), warmup, repeat)
            except RuntimeError as exc:
                log.error(
                    "mairust up failed; last lines of its log:\n%s",
                    log_tail(data_dir / "mairust-up.log"),
                )
                return TargetRun(name, None, str(exc))
        # Stopped now: its front-end logged the spool's group-commit sizes on the way out.
        for line in log_tail(data_dir / "mairust-up.log", lines=400).splitlines():
            if "spool: committed" in line:
                print(f"{name}: {line.split('spool: ', 1)[1]}")
        return run


def production_config(directory: Path) -> Path:
    """A config naming a new database, bucket and index on the servers that
    `.ci/with-services.sh` started (MAIRUST_TEST_* in the environment)."""
    import sqlalchemy as sa

    from mairust.storage.sql_engine import postgres_url

    suffix = uuid.uuid4().hex[:10]
    server = os.environ["MAIRUST_TEST_POSTGRES_URL"]
    admin = sa.create_engine(postgres_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "mairust_bench_{suffix}"')
    admin.dispose()
    metadata = sa.make_url(server).set(database=f"mairust_bench_{suffix}")
    blobs = os.environ["MAIRUST_TEST_S3_URL"].replace("s3://mairust-test", f"s3://bench-{suffix}")
    search = os.environ["MAIRUST_TEST_OPENSEARCH_URL"] + f"?index=bench-{suffix}"
    path = directory / "production.toml"
    path.write_text(
        "[storage]\n"
        f'metadata = "{metadata.render_as_string(hide_password=False)}"\n'
        f'blobs = "{blobs}"\nsearch = "{search}"\n'
        # Nodes that share PostgreSQL share one configured master key (tokens, secrets).
        f'[secrets]\nkey = "{base64.b64encode(os.urandom(32)).decode()}"\n'
    )
    return path
