"""E2E harness: the fixtures scenario modules (one per file) get `mairust up` through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mairust_server import MairustServer, wait_for


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory):
    """One `mairust up` shared by the scenarios that do not restart or kill it."""
    server = MairustServer(data_dir=tmp_path_factory.mktemp("shared") / "data")
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.stop()


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


@pytest.fixture
def wait_until():
    return wait_for


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Each scenario starts a Ray cluster: keep them on one xdist worker, one at a time.
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))
