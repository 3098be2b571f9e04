"""Training a learning plugin over REST (platform admin only): stored messages labelled
spam or ham become the spam filter's next state version in the metadata store, which a
release from quarantine of mail it tagged also does (as ham); a plugin that does not
learn, a label it does not know, a message not found and a malformed body are 422
problems, an unknown plugin a 404, a tenant admin a 403."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mairust.model.folders import QUARANTINE
from plugins.spam_filter.model import SpamModel
from tests.support.bola import (
    LEARNING_PLUGIN,
    LEARNING_PLUGIN_DIR,
    MATRIX_PLUGIN,
    matrix_plugin_dir,
)
from tests.support.mailbox_parties import Parties, mailbox_parties

PLUGINS = "/api/v1/admin/plugins"
TRAIN = f"{PLUGINS}/{LEARNING_PLUGIN}/train"


@pytest.fixture
def parties(app, seeder) -> Parties:
    return mailbox_parties(app, seeder)


async def install(client) -> None:
    made = await client.post(PLUGINS, json={"path": str(LEARNING_PLUGIN_DIR)})
    assert made.status_code == 201, made.text


async def test_each_training_stores_the_next_state(client, seeder, parties, stores):
    await install(client)
    spam = seeder.deliver(parties.jane, seeder.message(subject="cheap pills now"))
    ham = seeder.deliver(parties.jane, seeder.message(subject="agenda for monday"))
    body = {
        "examples": [
            {"message_id": spam.id, "label": "spam"},
            {"message_id": ham.id, "label": "ham"},
        ]
    }
    first = await client.post(TRAIN, json=body)
    assert first.status_code == 200, first.text
    assert (first.json()["plugin"], first.json()["version"]) == (LEARNING_PLUGIN, 1)
    assert first.json()["examples"] == 2
    second = await client.post(TRAIN, json={"examples": body["examples"][:1]})
    assert (second.status_code, second.json()["version"]) == (200, 2)
    stored = stores.metadata.get_plugin_model(LEARNING_PLUGIN)
    assert stored is not None and (stored.version, stored.source) == (2, "api")
    SpamModel.from_bytes(stored.model)  # the plugin's own state, as it wrote it
    assert stores.metadata.plugin_model_versions() == {LEARNING_PLUGIN: 2}


async def test_a_release_of_mail_it_tagged_teaches_it_ham(client, seeder, parties, stores):
    await install(client)
    untagged = seeder.deliver(parties.jane, seeder.message(subject="a"), folder=QUARANTINE)
    tagged = seeder.deliver(
        parties.jane, seeder.message(subject="b"), folder=QUARANTINE, tags=("spam",)
    )
    released = await client.post(f"/api/v1/quarantine/{untagged.id}/release", headers=parties.owner)
    assert released.status_code == 200, released.text
    assert stores.metadata.get_plugin_model(LEARNING_PLUGIN) is None  # not its doing
    released = await client.post(f"/api/v1/quarantine/{tagged.id}/release", headers=parties.owner)
    assert released.status_code == 200, released.text
    stored = stores.metadata.get_plugin_model(LEARNING_PLUGIN)
    assert stored is not None and (stored.version, stored.source, stored.examples) == (
        1,
        "release",
        1,
    )


async def test_refusals_are_problems(client, seeder, parties, tmp_path: Path, expect_problem):
    await install(client)
    entry = seeder.deliver(parties.jane, seeder.message())
    good = {"message_id": entry.id, "label": "spam"}
    bodies: tuple[dict[str, Any], ...] = (
        {"examples": [{**good, "label": "eggs"}]},  # a label it does not learn
        {"examples": [{**good, "message_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}]},  # no such message
        {"examples": []},
        {"examples": [good], "more": 1},
        {"examples": [{"message_id": entry.id}]},
    )
    for body in bodies:
        expect_problem(await client.post(TRAIN, json=body), 422)
    await client.post(PLUGINS, json={"path": str(matrix_plugin_dir(tmp_path, "1.0.0"))})
    not_learning = await client.post(f"{PLUGINS}/{MATRIX_PLUGIN}/train", json={"examples": [good]})
    expect_problem(not_learning, 422)
    assert "does not learn" in not_learning.json()["detail"]
    expect_problem(await client.post(f"{PLUGINS}/missing/train", json={"examples": [good]}), 404)
    refused = await client.post(TRAIN, json={"examples": [good]}, headers=parties.tenant_admin)
    expect_problem(refused, 403)
