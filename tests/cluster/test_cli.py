"""cluster/cli: the `mairust` command, driven in-process with typer's CliRunner.

Admin commands run against a tmp ``--data-dir`` and are checked in the stores they wrote.
`mairust up` itself is driven as a subprocess by tests/integration.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cluster import cli
from cluster.cli import app
from mairust import __version__
from mairust.cli import directory, queue
from mairust.config import Settings
from mairust.model.ids import new_id
from mairust.model.message import Envelope, MessageRef, SpoolRecord
from mairust.model.scope import PLATFORM
from mairust.passwords import verify_password
from mairust.storage.factory import migrate, open_stores
from mairust.storage.stores import Stores

# Wide enough that no table cell is cut. Consoles made during a command read COLUMNS;
# the commands' module-level consoles may have fixed their width at import (pytest-xdist
# sets COLUMNS=80 in its workers), so ``wide_consoles`` widens those.
WIDE = {"COLUMNS": "250"}


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    for console in (cli.console, directory.console, queue.console):
        monkeypatch.setattr(console, "width", 250)


@pytest.fixture(autouse=True)
def no_mairust_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MAIRUST_* variables of the caller's shell must not leak into these commands."""
    for name in list(os.environ):
        if name.startswith("MAIRUST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def mairust(data_dir: Path):
    """``mairust(*args, stdin=None)``: run a command against the tmp data dir."""
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, with_data_dir: bool = True) -> Result:
        argv = [*args, "--data-dir", str(data_dir)] if with_data_dir else list(args)
        return runner.invoke(app, argv, input=stdin, env=WIDE)

    return run


@pytest.fixture
def stores(data_dir: Path) -> Iterator[Stores]:
    """The stores the commands write to, opened alongside them (SQLite WAL shares them)."""
    settings = Settings(data_dir=data_dir)
    migrate(settings.storage)
    opened = open_stores(settings.storage)
    yield opened
    opened.close()


def assert_clean_failure(result: Result, message: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_help_lists_the_commands(mairust):
    result = mairust("--help", with_data_dir=False)
    assert result.exit_code == 0
    for command in ("up", "user", "domain", "queue"):
        assert f" {command} " in result.stdout


def test_no_arguments_shows_the_help(mairust):
    result = mairust(with_data_dir=False)
    assert "Usage: mairust" in result.output
    assert "domain" in result.output


def test_up_help_documents_its_options(mairust):
    result = mairust("up", "--help", with_data_dir=False)
    assert result.exit_code == 0
    for option in (
        "--data-dir",
        "--smtp-port",
        "--submission-port",
        "--api-port",
        "--domain",
        "--config",
    ):
        assert option in result.stdout
    assert "2525" in result.stdout  # the documented default SMTP port


def test_domain_add_then_list(mairust, stores):
    added = mairust("domain", "add", "Example.Test")
    assert added.exit_code == 0, added.output
    assert "added domain example.test" in added.stdout
    with_tenant = mairust("domain", "add", "second.test", "--tenant", "acme")
    assert with_tenant.exit_code == 0, with_tenant.output

    listed = mairust("domain", "list")

    assert listed.exit_code == 0, listed.output
    assert "example.test" in listed.stdout
    assert "acme" in listed.stdout
    tenants = {t.id: t.name for t in stores.metadata.list_tenants()}
    domains = {d.name: tenants[d.tenant_id] for d in stores.metadata.list_domains(PLATFORM)}
    assert domains == {"example.test": "example.test", "second.test": "acme"}


def test_duplicate_domain_is_a_one_line_error(mairust, stores):
    assert mairust("domain", "add", "example.test").exit_code == 0
    result = mairust("domain", "add", "EXAMPLE.test")
    assert_clean_failure(result, "domain 'example.test' exists already")
    assert len(stores.metadata.list_domains(PLATFORM)) == 1


def test_user_add_with_password_from_stdin(mairust, stores):
    assert mairust("domain", "add", "example.test").exit_code == 0

    result = mairust("user", "add", "Alice@Example.Test", "--password-stdin", stdin="s3cret pw\n")

    assert result.exit_code == 0, result.output
    assert "added mailbox alice@example.test" in result.stdout
    mailbox = stores.metadata.find_mailbox("alice@example.test")
    assert mailbox is not None and mailbox.password_hash is not None
    assert verify_password("s3cret pw", mailbox.password_hash)
    assert not verify_password("s3cret", mailbox.password_hash)


def test_user_add_without_password_has_no_auth(mairust, stores):
    assert mairust("domain", "add", "example.test").exit_code == 0
    assert mairust("user", "add", "bob@example.test").exit_code == 0
    mailbox = stores.metadata.find_mailbox("bob@example.test")
    assert mailbox is not None and mailbox.password_hash is None


def test_user_add_can_create_its_domain(mairust, stores):
    result = mairust("user", "add", "carol@new.test", "--create-domain")
    assert result.exit_code == 0, result.output
    assert stores.metadata.get_domain("new.test") is not None
    assert stores.metadata.find_mailbox("carol@new.test") is not None


def test_user_list_shows_who_can_authenticate(mairust):
    assert mairust("domain", "add", "example.test").exit_code == 0
    assert (
        mairust("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n").exit_code
        == 0
    )
    assert mairust("user", "add", "bob@example.test").exit_code == 0

    result = mairust("user", "list")

    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "@example.test" in line}
    assert set(rows) == {"alice@example.test", "bob@example.test"}
    assert " yes " in rows["alice@example.test"]
    assert " no " in rows["bob@example.test"]


def test_user_in_a_domain_that_is_not_local_is_refused(mairust, stores):
    result = mairust("user", "add", "dave@elsewhere.test")
    assert_clean_failure(result, "not a local domain: elsewhere.test")
    assert stores.metadata.list_mailboxes(PLATFORM) == []


def test_duplicate_user_is_refused(mairust, stores):
    assert mairust("user", "add", "erin@example.test", "--create-domain").exit_code == 0
    result = mairust("user", "add", "ERIN@example.test")
    assert_clean_failure(result, "mailbox exists: erin@example.test")
    assert len(stores.metadata.list_mailboxes(PLATFORM)) == 1


def test_invalid_address_is_refused(mairust, stores):
    result = mairust("user", "add", "not an address", "--create-domain")
    assert_clean_failure(result, "not a mail address")
    assert stores.metadata.list_domains(PLATFORM) == []


def test_empty_password_on_stdin_is_refused(mairust, stores):
    assert mairust("domain", "add", "example.test").exit_code == 0
    result = mairust("user", "add", "frank@example.test", "--password-stdin", stdin="\n")
    # Refused before any store is touched: one clear line, exit code 1.
    assert_clean_failure(result, "password read from stdin is empty")
    assert stores.metadata.find_mailbox("frank@example.test") is None


def test_queue_list_shows_rows_and_counts(mairust, data_dir):
    assert mairust("user", "add", "gina@example.test", "--create-domain").exit_code == 0
    settings = Settings(data_dir=data_dir)
    stores = open_stores(settings.storage)
    try:
        info = stores.blobs.put(b"Subject: queued\r\n\r\nhi\r\n")
        ref = MessageRef(id=new_id(), size=info.size, sha256=info.sha256, blob_key=info.key)
        envelope = Envelope(
            mail_from="s@remote.example",
            rcpt_tos=("gina@example.test",),
            received_at=datetime.now(UTC),
        )
        stores.metadata.commit_messages([SpoolRecord(ref=ref, envelope=envelope)])
    finally:
        stores.close()

    everything = mairust("queue", "list")
    done_only = mairust("queue", "list", "--state", "DONE")

    assert everything.exit_code == 0, everything.output
    assert ref.id in everything.stdout
    assert "gina@example.test" in everything.stdout
    assert "queued: 1  leased: 0  done: 0  failed: 0" in everything.stdout
    assert done_only.exit_code == 0, done_only.output
    assert ref.id not in done_only.stdout
    assert "queued: 1" in done_only.stdout  # the counts always cover every state


def test_queue_list_refuses_an_unknown_state(mairust):
    result = mairust("queue", "list", "--state", "lost")
    assert result.exit_code == 2
    assert "lost" in result.stderr
    assert "Traceback" not in result.output


def test_missing_config_file_fails_cleanly(mairust, data_dir):
    missing = data_dir.parent / "missing.toml"
    result = mairust("domain", "list", "--config", str(missing))
    assert_clean_failure(result, "does not exist", exit_code=2)
    assert str(missing) in result.stderr
    assert not data_dir.exists()  # nothing was created


def test_config_file_is_read(mairust, tmp_path):
    elsewhere = tmp_path / "from-config"
    config = tmp_path / "mairust.toml"
    config.write_text(f'data_dir = "{elsewhere}"\n')
    result = mairust("domain", "add", "conf.test", "--config", str(config), with_data_dir=False)
    assert result.exit_code == 0, result.output
    assert (elsewhere / "metadata.db").is_file()


def test_version_prints_the_package_version(mairust):
    result = mairust("version", with_data_dir=False)
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_up_on_a_shared_database_without_the_shared_key_is_a_one_line_error(mairust, tmp_path):
    # Checked before any process starts (nothing listens on port 1: it is never reached).
    config = tmp_path / "shared.toml"
    config.write_text('[storage]\nmetadata = "postgresql://mairust@127.0.0.1:1/mairust"\n')
    result = mairust("up", "--config", str(config))
    assert_clean_failure(result, "secrets.key (MAIRUST_SECRETS__KEY) must be set")
