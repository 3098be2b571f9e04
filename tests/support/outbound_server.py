"""A `mairust up` set for outbound scenarios: its resolver is the test's loopback DNS
server, its MX port the test's MX, and alice@example.test a submitter with a password."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.mairust_server import MairustServer

SUBMITTER = "alice@example.test"
PASSWORD = "correct horse battery"


def outbound_server(
    new_server: Callable[..., MairustServer],
    config_dir: Path,
    dns_port: int,
    mx_port: int,
    **outbound: Any,
) -> MairustServer:
    """Started, with ``[outbound]`` ``port`` = ``mx_port``, a short poll and ``outbound``."""
    settings = {"port": mx_port, "poll_interval": 0.2, **outbound}
    config = config_dir / "mairust.toml"
    config.write_text(
        f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns_port}\ntimeout = 1.0\n'
        "[outbound]\n" + "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    )
    server = new_server(config=config)
    added = server.cli(
        "user", "add", SUBMITTER, "--create-domain", "--password-stdin", stdin=PASSWORD
    )
    assert added.returncode == 0, added.stdout + added.stderr
    server.start()
    return server
