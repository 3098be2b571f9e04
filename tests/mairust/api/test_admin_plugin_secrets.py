"""A plugin's secrets over REST (platform admin only): names and whether they are set,
never a value; a value set, replaced and deleted; an undeclared name is a 422 problem; a
plugin that names secrets is switched on only once they are set."""

from __future__ import annotations

from pathlib import Path

from tests.support.bola import MATRIX_PLUGIN, matrix_plugin_dir

PLUGINS = "/api/v1/admin/plugins"
SECRETS = f"{PLUGINS}/{MATRIX_PLUGIN}/secrets"


async def test_set_list_and_delete_without_ever_showing_a_value(client, tmp_path: Path):
    directory = matrix_plugin_dir(tmp_path, "1.0.0", ("api-key",))
    made = await client.post(PLUGINS, json={"path": str(directory)})
    assert made.status_code == 201 and made.json()["enabled"] is False
    listed = (await client.get(SECRETS)).json()["items"]
    assert listed == [{"name": "api-key", "declared": True, "set": False, "set_at": None}]
    off = await client.patch(f"{PLUGINS}/{MATRIX_PLUGIN}", json={"enabled": True})
    assert off.status_code == 422 and "api-key" in off.json()["detail"]
    for value in ("sk-first-value", "sk-second-value"):
        put = await client.put(f"{SECRETS}/api-key", json={"value": value})
        assert put.status_code == 204, put.text
    answer = await client.get(SECRETS)
    [item] = answer.json()["items"]
    assert item["set"] is True and item["set_at"] is not None
    assert "sk-" not in answer.text
    on = await client.patch(f"{PLUGINS}/{MATRIX_PLUGIN}", json={"enabled": True})
    assert on.status_code == 200 and on.json()["enabled"] is True
    assert (await client.delete(f"{SECRETS}/api-key")).status_code == 204
    assert (await client.get(f"{PLUGINS}/{MATRIX_PLUGIN}")).json()["enabled"] is False


async def test_refusals_are_problems(client, tmp_path: Path, expect_problem):
    await client.post(PLUGINS, json={"path": str(matrix_plugin_dir(tmp_path, "1.0.0", ("k",)))})
    expect_problem(await client.put(f"{SECRETS}/other", json={"value": "x"}), 422)
    expect_problem(await client.put(f"{SECRETS}/k", json={"value": ""}), 422)
    expect_problem(await client.put(f"{SECRETS}/k", json={"value": "x", "more": 1}), 422)
    expect_problem(await client.delete(f"{SECRETS}/k"), 404)  # not set
    expect_problem(await client.get(f"{PLUGINS}/missing/secrets"), 404)
    expect_problem(await client.put(f"{PLUGINS}/missing/secrets/k", json={"value": "x"}), 404)
