"""FrontEndActor: SMTP listeners in an actor, feeding a real dispatcher and pipeline workers.

The queue's poll interval is 30 s here, so a delivery within seconds proves the front-end's
coalesced nudge reached the dispatcher.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import asyncio
import re
import smtplib
import socket
import ssl

import pytest
import ray
from cryptography import x509

from actors.dispatcher import DispatcherActor
from actors.frontend import CoalescedNudge, FrontEndActor
from actors.pipeline_worker import PipelineWorkerActor
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.queue import QueueState
from mairust.supervision import Backoff
from tests.support.pebble import acme_world, free_port, starttls_certificate

CALL_TIMEOUT = 60
QUEUED_AS = re.compile(r"2\.0\.0 Ok: queued as (\S+)")


@pytest.fixture(scope="module")
def dispatcher(module_spawn, module_world):
    """A running dispatcher over two workers; its name (the front-end looks it up)."""
    workers = [f"pipeline-worker-{new_id()}" for _ in range(2)]
    for name in workers:
        module_spawn(PipelineWorkerActor, module_world.settings, name=name)
    name = f"dispatcher-{new_id()}"
    handle = module_spawn(DispatcherActor, module_world.settings, workers, name=name)
    ray.get(handle.stats.remote(), timeout=CALL_TIMEOUT)
    return name


@pytest.fixture
def frontend(spawn, module_world, dispatcher):
    """A started front-end and its listeners as ``{name: (host, port)}``."""
    # No auth checker actors: SPF/DKIM/DMARC are not what these tests are about.
    handle = spawn(FrontEndActor, module_world.settings, dispatcher, [])
    bound = ray.get(handle.listening.remote(), timeout=CALL_TIMEOUT)
    return handle, {name: (host, port) for name, host, port in bound}


def test_listeners_are_bound_on_loopback_ports(frontend):
    _handle, listening = frontend
    assert set(listening) == {"smtp", "submission"}
    assert {host for host, _port in listening.values()} == {"127.0.0.1"}
    ports = [port for _host, port in listening.values()]
    assert all(port > 0 for port in ports)  # port 0 in the settings: the bound port is reported
    assert len(set(ports)) == 2
    for host, port in listening.values():
        with smtplib.SMTP(host, port, timeout=30) as client:
            code, banner = client.ehlo("client.remote.example")
            assert code == 250
            assert b"mx.example.test" in banner


def test_accepted_message_is_queued_and_delivered(frontend, module_world, body, wait_until):
    _handle, listening = frontend
    rcpt = module_world.mailbox()
    host, port = listening["smtp"]
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.ehlo("client.remote.example")
        assert client.mail("sender@remote.example")[0] == 250
        assert client.rcpt(rcpt)[0] == 250
        code, reply = client.data(body("capybara"))

    assert code == 250
    match = QUEUED_AS.fullmatch(reply.decode())
    assert match, reply
    message_id = match.group(1)
    # The reply names the message the spool committed, and the dispatcher delivers it.
    rows = wait_until(
        lambda: [r for r in module_world.rows(message_id) if r.state is QueueState.DONE],
        timeout=15,
        what="delivery of the accepted message",
    )
    assert [row.recipient for row in rows] == [rcpt]
    [entry] = module_world.entries(message_id)
    assert entry.mailbox_address == rcpt
    assert entry.subject == "hello from the tests"
    assert module_world.search("capybara") == {entry.id}


def test_unknown_local_recipient_is_refused_and_nothing_is_queued(frontend, module_world):
    _handle, listening = frontend
    before = module_world.stores.metadata.queue_counts()
    host, port = listening["smtp"]
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.ehlo("client.remote.example")
        client.mail("sender@remote.example")
        code, reply = client.rcpt("nobody-at-all@example.test")
    assert code == 550
    assert reply.startswith(b"5.1.1")
    assert module_world.stores.metadata.queue_counts() == before


def test_stop_closes_the_listeners(frontend):
    handle, listening = frontend

    assert ray.get(handle.stop.remote(), timeout=CALL_TIMEOUT) is None

    for host, port in listening.values():
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5).close()


class FlakyDispatcherHandle:
    """Stands in for the dispatcher's handle: ``nudge.remote()`` fails once with a bug."""

    def __init__(self) -> None:
        self.nudge = self
        self.calls = 0

    def remote(self) -> asyncio.Future[None]:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("nudge bug")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def eventually(predicate, seconds=10.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_the_nudge_forwarder_restarts_after_an_unexpected_error():
    handle = FlakyDispatcherHandle()
    nudge = CoalescedNudge(handle, Backoff(first_seconds=0.01))
    try:
        nudge.committed([])
        await eventually(lambda: nudge.supervisor.restarts == 1)
        assert nudge.supervisor.last_error == "RuntimeError: nudge bug"
        nudge.committed([])  # the restarted loop forwards the next commit
        await eventually(lambda: handle.calls == 2)
        assert nudge.supervisor.state.seconds_since_progress is not None
    finally:
        nudge.close()


async def test_a_burst_of_commits_folds_into_few_nudges():
    handle = FlakyDispatcherHandle()
    handle.calls = 1  # no failure this time
    nudge = CoalescedNudge(handle, min_interval=0.2)
    try:
        for _ in range(50):  # 50 group commits within ~0.1 s
            nudge.committed([])
            await asyncio.sleep(0.002)
        await eventually(lambda: nudge.sent == 2)
        await asyncio.sleep(0.3)
        assert nudge.sent == 2  # the first commit's nudge, then one for all the others
        nudge.committed([])
        await eventually(lambda: nudge.sent == 3)
    finally:
        nudge.close()


ACME_ADDRESS = "127.0.0.115"  # where the ACME test name resolves: the challenge listener
ACME_NAME = "mx.frontend-actor.test"


def test_acme_certificate_is_ordered_and_served_by_the_running_actor(
    spawn, module_world, dispatcher, tmp_path, wait_until
):
    http_port = free_port(ACME_ADDRESS)
    with acme_world(tmp_path / "pebble", {ACME_NAME: ACME_ADDRESS}, http_port) as pebble:
        config = module_world.settings.model_dump()
        config["smtp"] |= {
            "tls_cert_file": tmp_path / "tls" / "cert.pem",
            "tls_key_file": tmp_path / "tls" / "key.pem",
            "tls_reload_seconds": 0,
        }
        config["acme"] = {
            "enabled": True,
            "directory_url": pebble.directory_url,
            "ca_file": str(pebble.ca_file),
            "domains": [ACME_NAME],
            "http_address": ACME_ADDRESS,
            "http_port": http_port,
            "account_key_file": tmp_path / "acme" / "account-key.pem",
        }
        handle = spawn(FrontEndActor, Settings.model_validate(config), dispatcher, [])
        bound = ray.get(handle.listening.remote(), timeout=CALL_TIMEOUT)
        port = next(port for name, _host, port in bound if name == "smtp")
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())

        def served() -> x509.Certificate | None:
            # The stand-in until the actor's loop has its first certificate.
            try:
                return starttls_certificate(port, ACME_NAME, root)
            except ssl.SSLCertVerificationError:
                return None

        issued = wait_until(served, timeout=30, what="the ACME certificate to be served")
        intermediate = x509.load_pem_x509_certificate(pebble.intermediate_pem())
        assert issued.issuer == intermediate.subject
        ray.get(handle.stop.remote(), timeout=CALL_TIMEOUT)
