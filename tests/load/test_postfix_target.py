"""Behaviour of the private Postfix instances and the counting smtp-sink: an instance starts
from its own directories, accepts on its loopback port, passes every message on (discarded,
or relayed to the sink), empties its queue, stops completely and leaves nothing behind.
Real Postfix from the OS packages, started as root (as CI runs); no timings."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from load.postfix_target import (
    DISCARD,
    HOSTNAME,
    MAIL_OWNER,
    PostfixInstance,
    counting_sink,
    main_cf,
    prepare_instance,
    private_postfix,
)
from load.reference import (
    RECIPIENT_DOMAIN,
    ReferenceRun,
    smtp_source_command,
    write_message_file,
)
from load.targets import free_loopback_port


def greeting(port: int, within: float = 30.0) -> bytes:
    give_up = time.monotonic() + within
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                return sock.makefile("rb").readline()
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)


def send(port: int, messages: int, directory: Path, sessions: int = 4) -> None:
    run = ReferenceRun(messages=messages)
    command = smtp_source_command(run, port, sessions, messages, write_message_file(directory, run))
    subprocess.run(command, check=True, timeout=120, capture_output=True)


def wait_for(condition, within: float = 60.0) -> None:
    give_up = time.monotonic() + within
    while not condition():
        assert time.monotonic() < give_up, "condition not met in time"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_benchmark_runs_as_root() -> None:
    # A second Postfix instance is started with `postfix -c DIR start`, which needs root.
    assert os.geteuid() == 0, "run the load tests as root (CI does), Postfix needs it"


def test_main_cf_discards_everything_for_the_domain_from_loopback_without_dns(
    tmp_path: Path,
) -> None:
    text = main_cf(tmp_path, "example.test", DISCARD)
    settings = dict(
        (key.strip(), value.strip())
        for key, value in (line.split("=", 1) for line in text.splitlines() if "=" in line)
    )
    assert settings["queue_directory"] == f"{tmp_path}/queue"
    assert settings["inet_interfaces"] == "loopback-only"
    assert settings["inet_protocols"] == "ipv4"
    assert settings["mynetworks"] == "127.0.0.0/8"
    assert settings["relay_domains"] == "example.test"
    for transport in ("default_transport", "relay_transport", "local_transport"):
        assert settings[transport] == DISCARD
    assert settings["smtp_dns_support_level"] == "disabled"
    assert settings["smtpd_peername_lookup"] == "no"
    assert settings["maillog_file"] == f"{tmp_path}/maillog"
    assert settings["myhostname"] == HOSTNAME != socket.gethostname()


def test_postfix_check_accepts_a_prepared_instance(tmp_path: Path) -> None:
    instance = prepare_instance(tmp_path, free_loopback_port(), "example.test", DISCARD)
    owner = pwd.getpwnam(MAIL_OWNER)
    assert (tmp_path / "data").stat().st_uid == owner.pw_uid
    checked = instance.postfix("check", timeout=60)
    assert checked.returncode == 0, checked.stderr.decode()
    master = (instance.config_dir / "master.cf").read_text().splitlines()
    assert master[0].split()[:2] == [f"127.0.0.1:{instance.port}", "inet"]
    assert all(line.split()[4] == "n" for line in master), "no service is chrooted"


def test_durable_accept_starts_discards_every_message_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_loopback_port()
    with private_postfix(port, RECIPIENT_DOMAIN, DISCARD) as postfix:
        root = postfix.root
        assert greeting(port).startswith(b"220 ")
        pid = postfix.master_pid()
        assert pid is not None and alive(pid)
        send(port, 30, tmp_path)
        wait_for(lambda: postfix.queued() == 0)
        assert postfix.delivered() == 30
        # Its own master, on its own configuration, logging to its own file.
        assert "daemon started -- version" in postfix.maillog.read_text()
        assert f"configuration {postfix.config_dir}" in postfix.maillog.read_text()
    wait_for(lambda: not alive(pid), within=30)
    assert not root.exists(), "the instance's directory is removed"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_relay_hands_every_message_to_the_sink(tmp_path: Path) -> None:
    sink_port, port = free_loopback_port(), free_loopback_port()
    with counting_sink(sink_port, tmp_path) as sink:
        greeting(sink_port)
        relay = f"smtp:[127.0.0.1]:{sink_port}"
        with private_postfix(port, RECIPIENT_DOMAIN, relay) as postfix:
            greeting(port)
            send(port, 25, tmp_path)
            wait_for(lambda: sink.messages() >= 25)
            wait_for(lambda: postfix.queued() == 0)
            assert postfix.delivered() == 25
        assert sink.messages() == 25, "exactly once each"


def test_a_postfix_that_cannot_start_says_why_and_leaves_nothing() -> None:
    # A parent of its own: other tests start Postfix instances in the temporary directory at
    # the same time. The postfix user must be able to enter it, as it can enter /tmp.
    parent = Path(tempfile.mkdtemp(prefix="postfix-target-test-"))
    parent.chmod(0o755)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(RuntimeError, match="postfix start failed"):  # noqa: SIM117
                with private_postfix(
                    port, RECIPIENT_DOMAIN, DISCARD, start_timeout=60, parent=parent
                ):
                    pass
        assert list(parent.iterdir()) == []
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_the_sink_counts_messages_from_its_counters(tmp_path: Path) -> None:
    port = free_loopback_port()
    with counting_sink(port, tmp_path) as sink:
        assert greeting(port).startswith(b"220 ")
        assert sink.messages() == 0
        send(port, 7, tmp_path, sessions=2)
        wait_for(lambda: sink.messages() == 7)


def test_queued_counts_files_in_every_queue_directory(tmp_path: Path) -> None:
    instance = PostfixInstance(tmp_path, 0)
    (tmp_path / "queue" / "deferred" / "A").mkdir(parents=True)
    (tmp_path / "queue" / "deferred" / "A" / "ABC123").write_text("x")
    (tmp_path / "queue" / "incoming").mkdir()
    (tmp_path / "queue" / "incoming" / "DEF456").write_text("x")
    (tmp_path / "queue" / "bounce").mkdir()
    (tmp_path / "queue" / "bounce" / "logs-not-mail").write_text("x")
    assert instance.queued() == 2
