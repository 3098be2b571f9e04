"""Stage ``store`` through the whole pipeline: each recipient's entry is threaded by the
message's Message-ID, In-Reply-To and References, whichever arrives first."""

from __future__ import annotations

from mairust.model.scope import PLATFORM
from mairust.pipeline.runner import PipelineRunner


def _mail(message_id: str, *parents: str, subject: str = "plans") -> bytes:
    lines = [
        "From: Jane <jane@remote.example>",
        "To: alice@example.test, bob@example.test",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
    ]
    if parents:
        lines.append(f"In-Reply-To: {parents[-1]}")
        # Folded over two lines, as long References are.
        lines.append("References: " + "\r\n\t".join(parents))
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode()


def _deliver(stores, settings, spool_message, body: bytes, *rcpts: str) -> dict[str, str]:
    """Spool ``body``, run the pipeline; the new entry id in each recipient's mailbox."""
    ref = spool_message(body, *rcpts)
    items = stores.metadata.lease_batch("w1", 100, 60)
    report = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert report.delivered == len(rcpts)
    return {
        e.mailbox_address: e.id
        for e in stores.metadata.list_entries(PLATFORM)
        if e.message_id == ref.id
    }


def _thread_ids(stores, entry_id: str) -> list[str]:
    return [e.id for e in stores.metadata.thread_of(PLATFORM, entry_id)]


def test_a_reply_stored_after_its_parent_lands_in_its_thread(stores, settings, spool_message):
    rcpts = ("alice@example.test", "bob@example.test")
    parent = _deliver(stores, settings, spool_message, _mail("<p@remote.example>"), *rcpts)
    unrelated = _deliver(stores, settings, spool_message, _mail("<u@remote.example>"), *rcpts)
    reply = _deliver(
        stores,
        settings,
        spool_message,
        _mail("<r@remote.example>", "<root@gone.example>", "<p@Remote.EXAMPLE>"),
        "alice@example.test",
    )
    alice = "alice@example.test"
    assert _thread_ids(stores, reply[alice]) == [parent[alice], reply[alice]]
    assert _thread_ids(stores, unrelated[alice]) == [unrelated[alice]]
    # Bob got the parent but not the reply: his thread is his own.
    assert _thread_ids(stores, parent["bob@example.test"]) == [parent["bob@example.test"]]
    stored = stores.metadata.get_entry(PLATFORM, reply[alice])
    assert stored.thread.message_id == "<r@remote.example>"
    assert stored.thread.in_reply_to == "<p@remote.example>"
    assert stored.thread.references == ("<root@gone.example>", "<p@remote.example>")


def test_a_reply_stored_before_its_parent_is_merged_when_the_parent_arrives(
    stores, settings, spool_message
):
    alice = "alice@example.test"
    reply = _deliver(
        stores, settings, spool_message, _mail("<r@remote.example>", "<p@remote.example>"), alice
    )
    other = _deliver(stores, settings, spool_message, _mail("<o@remote.example>"), alice)
    assert _thread_ids(stores, reply[alice]) == [reply[alice]]
    parent = _deliver(stores, settings, spool_message, _mail("<p@remote.example>"), alice)
    # Oldest first by arrival in the mailbox: the reply came first.
    assert _thread_ids(stores, parent[alice]) == [reply[alice], parent[alice]]
    assert _thread_ids(stores, reply[alice]) == [reply[alice], parent[alice]]
    assert _thread_ids(stores, other[alice]) == [other[alice]]
    [summary] = [t for t in stores.metadata.list_threads(PLATFORM) if t.count == 2]
    assert summary.latest.id == parent[alice]


def test_a_message_accepted_for_a_full_mailbox_is_still_stored_and_counted(
    stores, settings, spool_message
):
    # The quota is checked at RCPT, before the 250; once accepted, a message is delivered
    # whatever the quota says (250 is a promise), and its size is counted.
    alice = stores.metadata.find_mailbox("alice@example.test")
    stores.metadata.set_mailbox_quota(PLATFORM, alice.id, 1)
    body = _mail("<q1@remote.example>")
    first = _deliver(stores, settings, spool_message, body, "alice@example.test")
    second = _deliver(
        stores, settings, spool_message, _mail("<q2@remote.example>"), "alice@example.test"
    )
    assert first and second
    used = stores.metadata.get_mailbox(PLATFORM, alice.id).used_bytes
    stored = [stores.metadata.get_entry(PLATFORM, e) for e in (*first.values(), *second.values())]
    assert used == sum(entry.size for entry in stored) > 1


def _alias(stores, address: str, *targets: str) -> None:
    mailboxes = [stores.metadata.find_mailbox(target) for target in targets]
    stores.metadata.add_alias(address, mailboxes[0].tenant_id, [m.id for m in mailboxes])


def _copies(stores, message_id: str) -> list[str]:
    return sorted(
        e.mailbox_address
        for e in stores.metadata.list_entries(PLATFORM)
        if e.message_id == message_id
    )


def test_an_alias_gets_one_copy_per_target_mailbox(stores, settings, spool_message):
    _alias(stores, "team@example.test", "alice@example.test", "bob@example.test")
    # The alias and one of its targets in one envelope: still one copy for alice.
    ref = spool_message(_mail("<a@remote.example>"), "team@example.test", "alice@example.test")
    items = stores.metadata.lease_batch("w1", 100, 60)
    report = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert (report.delivered, report.failed) == (2, 0)
    assert _copies(stores, ref.id) == ["alice@example.test", "bob@example.test"]
    # Both copies are searchable (the index stage took every entry of the alias row).
    entry_ids = {e.id for e in stores.metadata.list_entries(PLATFORM) if e.message_id == ref.id}
    assert {hit.entry_id for hit in stores.search.search(PLATFORM, "plans")} == entry_ids


def test_the_catchall_takes_unknown_addresses_and_a_mailbox_wins_over_an_alias(
    stores, settings, spool_message
):
    _alias(stores, "carol@example.test", "alice@example.test")
    # A mailbox made later at the alias's address shadows the alias.
    stores.metadata.add_mailbox("carol@example.test")
    bob = stores.metadata.find_mailbox("bob@example.test")
    stores.metadata.set_catchall("example.test", bob.tenant_id, bob.id)
    ref = spool_message(_mail("<c@remote.example>"), "carol@example.test", "who@example.test")
    items = stores.metadata.lease_batch("w1", 100, 60)
    report = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert (report.delivered, report.failed) == (2, 0)
    assert _copies(stores, ref.id) == ["bob@example.test", "carol@example.test"]


def test_without_a_catchall_an_unknown_address_fails_permanently(stores, settings, spool_message):
    spool_message(_mail("<g@remote.example>"), "ghost@example.test")
    items = stores.metadata.lease_batch("w1", 100, 60)
    report = PipelineRunner(stores, settings.queue).process(items, "w1")
    assert (report.delivered, report.failed) == (0, 1)
