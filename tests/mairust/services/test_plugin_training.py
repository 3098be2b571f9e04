"""PluginTraining over real embedded stores, with a plugin given through its ``loader``
parameter: examples reach the trainer as the plugin's hook requests would show them (its
manifest's scopes only), each training stores the next version on top of the newest state,
one that lost a race is a Conflict, and a release's training never fails the release."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mairust.errors import Conflict, Forbidden, InvalidInput
from mairust.hooks.manifest import load_manifest
from mairust.model.plugin_models import PluginModel
from mairust.model.plugins import InstalledPlugin
from mairust.plugin_sdk import Plugin, TrainingExample
from mairust.services.application import Application
from mairust.services.plugin_training import Labelled, PluginTraining
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import MailSeeder
from tests.mairust.hooks.test_deployment import SPAM_FILTER
from tests.mairust.services.conftest import ADMIN, Tenants
from tests.mairust.services.test_mailboxes import tenant_admin


class Counting:
    """A learning plugin whose state is the number of examples it has seen."""

    def __init__(self, before_store: Any = None, refuse: bool = False) -> None:
        self.seen: list[TrainingExample] = []
        self.before_store = before_store
        self.refuse = refuse
        self.plugin = Plugin("spam-filter")
        self.plugin.trainer(self.train)

    def train(self, state: bytes | None, examples: Sequence[TrainingExample], _: Any) -> bytes:
        self.seen += examples
        if self.before_store is not None:
            self.before_store()
        if self.refuse:
            raise ValueError("not that")
        return str(int(state or b"0") + len(examples)).encode()

    def load(self, _plugin: InstalledPlugin, _manifest: Any) -> Plugin:
        return self.plugin


@pytest.fixture
def installed(stores: Stores) -> None:
    """The spam filter's manifest, as installed (its code comes through ``loader``)."""
    manifest = load_manifest(SPAM_FILTER).model_dump(mode="json")
    now = datetime.now(UTC)
    stores.metadata.add_plugin(
        InstalledPlugin("spam-filter", "1.0.0", manifest, True, {}, now, now)
    )


def training(application: Application, stores: Stores, plugin: Counting) -> PluginTraining:
    return PluginTraining(stores, application.audit, None, loader=plugin.load)


def test_examples_arrive_as_its_hook_requests_and_states_follow_each_other(
    application: Application, stores: Stores, tenants: Tenants, installed: None
) -> None:
    seeder = MailSeeder(stores)
    entry = seeder.deliver(tenants.alice, seeder.message(subject="win big", to="alice@a.example"))
    plugin = Counting()
    service = training(application, stores, plugin)
    first = service.train(ADMIN, "spam-filter", [Labelled(entry.id, "spam")] * 2)
    assert (first.version, first.model, first.examples, first.source) == (1, b"2", 2, "api")
    [example, _] = plugin.seen
    assert example.label == "spam"
    request = example.request
    assert ("Subject", "win big") in (request.headers or [])
    assert request.body_preview and request.body_base64 is None  # its scopes, no more
    second = service.train(ADMIN, "spam-filter", [Labelled(entry.id, "ham")])
    assert (second.version, second.model) == (2, b"3")  # on top of the newest state
    for examples, fault in (
        ([], "give 1 to"),
        ([Labelled(entry.id, "eggs")], "learns the labels spam, ham, not eggs"),
        ([Labelled(entry.id, "spam"), Labelled("nope", "ham")], "no message nope"),
    ):
        with pytest.raises(InvalidInput, match=fault):
            service.train(ADMIN, "spam-filter", examples)
    refusing = training(application, stores, Counting(refuse=True))
    with pytest.raises(InvalidInput, match="refused the examples: not that"):
        refusing.train(ADMIN, "spam-filter", [Labelled(entry.id, "spam")])
    with pytest.raises(Forbidden):
        service.train(tenant_admin(tenants.a.id), "spam-filter", [Labelled(entry.id, "spam")])
    assert stores.metadata.plugin_model_versions() == {"spam-filter": 2}


def test_a_training_that_lost_the_race_changes_nothing(
    application: Application, stores: Stores, tenants: Tenants, installed: None
) -> None:
    seeder = MailSeeder(stores)
    entry = seeder.deliver(tenants.alice, seeder.message(to="alice@a.example"))
    meanwhile = PluginModel("spam-filter", 1, b"theirs", 1, "api", datetime.now(UTC))

    plugin = Counting(before_store=lambda: stores.metadata.add_plugin_model(meanwhile))
    with pytest.raises(Conflict):
        training(application, stores, plugin).train(
            ADMIN, "spam-filter", [Labelled(entry.id, "spam")]
        )
    assert stores.metadata.get_plugin_model("spam-filter") == meanwhile


def test_a_release_teaches_only_plugins_whose_tags_it_carries_and_never_fails(
    application: Application, stores: Stores, tenants: Tenants, installed: None
) -> None:
    seeder = MailSeeder(stores)
    entry = seeder.deliver(tenants.alice, seeder.message(to="alice@a.example"))
    plugin = Counting()
    service = training(application, stores, plugin)
    service.learn_from_release(entry, ["newsletter"])
    assert plugin.seen == []
    service.learn_from_release(entry, ["spam"])
    assert [e.label for e in plugin.seen] == ["ham"]
    stored = stores.metadata.get_plugin_model("spam-filter")
    assert stored is not None and (stored.version, stored.source) == (1, "release")
    failing = Counting(before_store=lambda: (_ for _ in ()).throw(RuntimeError("broken")))
    training(application, stores, failing).learn_from_release(entry, ["spam"])  # logged only
    assert stores.metadata.plugin_model_versions() == {"spam-filter": 1}
