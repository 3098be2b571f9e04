"""Plugins and hook bindings over REST (platform admin only): install from a directory, a
bad manifest as a 422 problem naming its faults, configure, bind, reorder, unbind,
uninstall."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mairust.model.plugins import BreakerReport, HookCall
from tests.mairust.api.conftest import SECOND_SETTINGS
from tests.support.bola import MATRIX_PLUGIN, matrix_plugin_dir
from tests.support.hook_plugin_service import SPAM_REPLY, rule_plugin

PLUGINS = "/api/v1/admin/plugins"
HOOKS = "/api/v1/admin/hooks"
HEADER_RULES = Path(__file__).resolve().parents[3] / "plugins" / "header_rules"


async def test_install_configure_bind_and_uninstall(client, tmp_path: Path):
    made = await client.post(PLUGINS, json={"path": str(matrix_plugin_dir(tmp_path, "1.0.0"))})
    assert made.status_code == 201, made.text
    plugin = made.json()
    assert (plugin["name"], plugin["version"], plugin["enabled"]) == (MATRIX_PLUGIN, "1.0.0", True)
    assert (plugin["transport"], plugin["hooks"]) == ("http", ["rcpt_to"])
    listed = (await client.get(PLUGINS)).json()["items"]
    assert [p["name"] for p in listed] == [MATRIX_PLUGIN]
    [binding] = (await client.get(HOOKS, params={"point": "rcpt_to"})).json()["items"]
    assert (binding["plugin"], binding["priority"], binding["mode"]) == (
        MATRIX_PLUGIN,
        10,
        "enforce",
    )
    assert (await client.get(HOOKS, params={"point": "pre_receive"})).json()["items"] == []

    shadow = await client.post(
        HOOKS, json={"plugin": MATRIX_PLUGIN, "point": "rcpt_to", "mode": "shadow", "priority": 1}
    )
    assert shadow.status_code == 201, shadow.text
    moved = await client.patch(f"{HOOKS}/{shadow.json()['id']}", json={"enabled": False})
    assert moved.json()["enabled"] is False and moved.json()["mode"] == "shadow"
    order = [b["id"] for b in (await client.get(HOOKS)).json()["items"]]
    assert order == [shadow.json()["id"], binding["id"]]
    assert (await client.delete(f"{HOOKS}/{shadow.json()['id']}")).status_code == 204

    off = await client.patch(f"{PLUGINS}/{MATRIX_PLUGIN}", json={"enabled": False})
    assert off.json()["enabled"] is False
    upgraded = await client.post(
        f"{PLUGINS}/{MATRIX_PLUGIN}/upgrade",
        json={"path": str(matrix_plugin_dir(tmp_path, "1.1.0"))},
    )
    assert upgraded.status_code == 200 and upgraded.json()["version"] == "1.1.0"
    assert (await client.delete(f"{PLUGINS}/{MATRIX_PLUGIN}")).status_code == 204
    assert (await client.get(HOOKS)).json()["items"] == []


async def test_refusals_are_problems(client, tmp_path: Path, expect_problem):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plugin.toml").write_text(
        (matrix_plugin_dir(tmp_path, "1.0.0") / "plugin.toml")
        .read_text()
        .replace('point = "rcpt_to"', 'point = "rcpt_too"')
    )
    problem = expect_problem(await client.post(PLUGINS, json={"path": str(bad)}), 422)
    assert "hooks[0].point: 'rcpt_too' is not one of" in problem["detail"]
    expect_problem(await client.post(PLUGINS, json={"path": str(tmp_path / "none")}), 422)
    # What the fuzz test posted (a NUL and a surrogate pair, JSON-escaped): a 500 once.
    odd = rb'{"path": "\u00f0\u0000\udbb1\udf04`E"}'
    headers = {"content-type": "application/json"}
    expect_problem(await client.post(PLUGINS, content=odd, headers=headers), 422)
    expect_problem(await client.get(f"{PLUGINS}/missing"), 404)
    expect_problem(await client.post(HOOKS, json={"plugin": "missing", "point": "rcpt_to"}), 404)
    await client.post(PLUGINS, json={"path": str(matrix_plugin_dir(tmp_path, "1.0.0"))})
    expect_problem(
        await client.post(HOOKS, json={"plugin": MATRIX_PLUGIN, "point": "pre_receive"}), 422
    )
    expect_problem(
        await client.post(
            HOOKS, json={"plugin": MATRIX_PLUGIN, "point": "rcpt_to", "tenant_id": "nobody"}
        ),
        404,
    )
    expect_problem(
        await client.patch(f"{PLUGINS}/{MATRIX_PLUGIN}", json={"config": {"x": 1}, "y": 2}), 422
    )
    expect_problem(await client.patch(f"{HOOKS}/missing", json={"priority": 3}), 404)


@SECOND_SETTINGS  # the plugin service is on loopback: [hooks] allow_networks
async def test_a_dry_run_asks_the_bound_plugins_and_stores_nothing(client, tmp_path: Path):
    with rule_plugin() as plugin:
        directory = plugin.package(tmp_path)
        made = await client.post(PLUGINS, json={"path": str(directory)})
        assert made.status_code == 201, made.text
        spam = {"message": "Subject: cheap spam\n\nbuy\n", "rcpt_tos": ["a@example.test"]}
        ran = await client.post(f"{HOOKS}/pre_receive/test", json=spam)
        assert ran.status_code == 200, ran.text
        answer = ran.json()
        assert answer["verdict"] == "reject" and answer["reply"] == SPAM_REPLY
        [call] = answer["calls"]
        assert (call["plugin"], call["outcome"], call["verdict"]) == (
            "spam-rule",
            "answered",
            "reject",
        )
        assert call["latency_ms"] > 0
        ham = {"message": "Subject: numbers\n\nhi\n", "rcpt_tos": ["a@example.test"]}
        answer = (await client.post(f"{HOOKS}/pre_receive/test", json=ham)).json()
        assert answer["verdict"] == "continue" and answer["reply"] is None
        assert answer["calls"][0]["tags"] == ["rule-checked"]
        # What the plugin saw: the message's headers (CRLF made), never its body.
        assert plugin.requests[0]["headers"] == [["Subject", "cheap spam"]]
        assert all(r["body_base64"] is None for r in plugin.requests)
        # No binding at rcpt_to: nothing is asked there.
        empty = await client.post(f"{HOOKS}/rcpt_to/test", json={"rcpt_tos": ["a@example.test"]})
        assert empty.json() == {
            "point": "rcpt_to",
            "verdict": "continue",
            "reply": None,
            "calls": [],
        }
    # Nothing stored: no message, no queue row, no recorded call.
    assert (await client.get("/api/v1/queue/stats")).json()["total"] == 0
    log = (await client.get(f"{PLUGINS}/spam-rule/calls")).json()
    assert log["items"] == [] and log["summary"]["calls"] == 0


async def test_post_receive_cannot_be_dry_run(client, expect_problem):
    expect_problem(
        await client.post(f"{HOOKS}/post_receive/test", json={"rcpt_tos": ["a@example.test"]}),
        422,
    )


async def test_figures_add_up_the_calls_and_show_who_sheds_the_plugin(
    client, stores, tmp_path: Path, expect_problem
):
    await client.post(PLUGINS, json={"path": str(matrix_plugin_dir(tmp_path, "1.0.0"))})
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    stores.metadata.record_hook_calls(
        [
            HookCall(f"f{n}", at, "rcpt_to", MATRIX_PLUGIN, mode, outcome, verdict, latency)
            for n, (mode, outcome, verdict, latency) in enumerate(
                [
                    ("enforce", "answered", "reject", 3.0),
                    ("enforce", "answered", "continue", 4.0),
                    ("enforce", "error", "tempfail", 40.0),
                    ("shadow", "answered", "reject", 1.0),
                ]
            )
        ]
    )
    stores.metadata.report_breaker(BreakerReport(MATRIX_PLUGIN, "smtp@h:1", "open", at, 30.0, 1))
    answer = await client.get(f"{PLUGINS}/{MATRIX_PLUGIN}/figures")
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    enforce, shadow = figures["points"]
    assert (enforce["point"], enforce["mode"], enforce["calls"]) == ("rcpt_to", "enforce", 3)
    assert enforce["by_outcome"] == {"answered": 2, "error": 1}
    assert enforce["by_verdict"] == {"reject": 1, "continue": 1, "tempfail": 1}
    assert enforce["latency_mean_ms"] == pytest.approx(15.67)
    assert (enforce["latency_p50_at_most_ms"], enforce["latency_p99_at_most_ms"]) == (5.0, 50.0)
    assert (shadow["mode"], shadow["calls"], shadow["by_verdict"]) == ("shadow", 1, {"reject": 1})
    [breaker] = figures["breakers"]
    assert (breaker["holder"], breaker["state"], figures["shed_by"]) == ("smtp@h:1", "open", 1)
    assert breaker["trial_after"].startswith("2026-11-30T12:00:30")
    expect_problem(await client.get(f"{PLUGINS}/missing/figures"), 404)


async def test_a_serve_plugin_installs_over_the_api(client):
    """Its code is kept by the platform (a serve plugin runs from the data directory)."""
    made = await client.post(PLUGINS, json={"path": str(HEADER_RULES)})
    assert made.status_code == 201, made.text
    assert (made.json()["name"], made.json()["transport"]) == ("header-rules", "serve")
    [binding] = (await client.get(HOOKS, params={"point": "pre_receive"})).json()["items"]
    assert binding["plugin"] == "header-rules"
    assert (await client.delete(f"{PLUGINS}/header-rules")).status_code == 204
