"""E2E harness: the fixtures scenario modules (one per file) get `mairust up` through."""

from __future__ import annotations

# First, before any scenario imports Ray: `cluster` sets the environment Ray reads when it is
# first imported (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); without it the Ray clusters that
# scenarios start in this process (ray.cluster_utils) bind to the machine's address.
import cluster  # noqa: F401

# isort: split

import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium
from tests.support.mairust_server import MairustServer, free_port, wait_for
from tests.support.plugin_packages import bundled_catalog
from tests.support.postgres_databases import PostgresDatabases, postgres_test_url
from tests.support.services import PrivateService, required_env, unique


@pytest.fixture(scope="session", params=["embedded", "production"])
def shared_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One `mairust up` shared by the scenarios that do not restart or kill it; every such
    scenario runs twice: on the embedded stores and on PostgreSQL + S3 + OpenSearch."""
    base = tmp_path_factory.mktemp(request.param)
    with ExitStack() as cleanup:
        # Scenarios send to remote domains (forwards, relays): their delivery loop asks a
        # loopback port where nothing answers, so no lookup leaves the machine.
        quiet_dns = f'[dns]\nnameservers = ["127.0.0.1"]\nport = {free_port()}\ntimeout = 0.5\n'
        # A catalog of signed bundled plugins to install from (the admin UI's gallery).
        extra = quiet_dns + bundled_catalog(base / "plugin-catalog")
        if request.param == "production":
            config = production_config(base, cleanup, extra)
        else:
            config = base / "mairust.toml"
            config.write_text(extra)
        server = MairustServer(data_dir=base / "data", config=config)
        server.start()
        yield server
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


def secrets_section() -> str:
    """A [secrets] table with a fresh master key: nodes that share PostgreSQL need one
    configured key (API token digests, sealed secrets), so every such config carries one."""
    return f'[secrets]\nkey = "{base64.b64encode(os.urandom(32)).decode()}"\n'


def production_config(base: Path, cleanup: ExitStack, extra: str = "") -> Path:
    """A config naming a fresh database, bucket and index on the session's test servers;
    ``extra`` is more TOML (other sections) for the same file."""
    databases = PostgresDatabases(postgres_test_url())
    cleanup.callback(databases.close)
    metadata = cleanup.enter_context(databases.database(migrated=False))
    blobs = required_env("MAIRUST_TEST_S3_URL").replace(
        "s3://mairust-test", f"s3://{unique('e2e')}", 1
    )
    search = required_env("MAIRUST_TEST_OPENSEARCH_URL") + f"?index={unique('e2e')}"
    config = base / "mairust.toml"
    config.write_text(
        f'[storage]\nmetadata = "{metadata}"\nblobs = "{blobs}"\nsearch = "{search}"\n'
        + secrets_section()
        + extra
    )
    return config


@pytest.fixture
def new_server(tmp_path: Path):
    """A factory for a private `mairust up` (killed at the end of the test whatever happens)."""
    started: list[MairustServer] = []

    def make(**kwargs) -> MairustServer:
        server = MairustServer(data_dir=tmp_path / "data", **kwargs)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.kill9()


@pytest.fixture(params=["embedded", "production"])
def server_config(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory of config files for a private `mairust up`: on the embedded stores, then
    on fresh PostgreSQL + S3 + OpenSearch places (the test runs once for each)."""
    with ExitStack() as cleanup:

        def make(extra: str = "") -> Path:
            if request.param == "production":
                return production_config(tmp_path, cleanup, extra)
            path = tmp_path / "mairust.toml"
            path.write_text(extra)
            return path

        yield make


@pytest.fixture
def service() -> Iterator[Any]:
    """A factory of private test servers (``service("postgres")``), stopped afterwards: a
    fault test stops or hangs its own, never the shared ones."""
    started: list[PrivateService] = []
    # Not under pytest's tmp_path: its 0700 parents keep PostgreSQL's server user out.
    base = Path(tempfile.mkdtemp(prefix="mairust-faults-", dir="/tmp"))
    base.chmod(0o755)

    def start(name: str) -> PrivateService:
        private = PrivateService.start(name, base / name)
        started.append(private)
        return private

    yield start
    for private in started:
        with contextlib.suppress(OSError, ValueError):
            private.thaw()  # a test that failed while its server hung: it must stop now
        private.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for a web UI scenario's pages (one a module: it takes seconds)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def wait_until():
    return wait_for


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Scenarios run on both xdist workers at once, beside the other tests: each starts its
    # own servers and Ray on free loopback ports (no xdist group: with pytest 9.2, xdist
    # 3.8's loadgroup groups nothing, and one worker for every scenario would take longer
    # than all of CI's other tests together).
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
