"""``mairust token create|list|revoke`` as an operator runs them; the token then opens the API."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from cluster.cli import app
from mairust.api import create_app
from mairust.config import load_settings
from mairust.model.scope import PLATFORM
from mairust.secrets.master_key import load_keyring
from mairust.storage.factory import open_stores

runner = CliRunner()


def _run(data_dir: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_created_token_works_until_revoked_and_is_audited(tmp_path: Path) -> None:
    _run(tmp_path, "domain", "add", "example.test", "--tenant", "acme")
    output = _run(
        tmp_path,
        "token",
        "create",
        "sync",
        "-p",
        "read",
        "--role",
        "tenant_admin",
        "--tenant",
        "acme",
    )
    secret = output.strip().splitlines()[-1]
    assert secret.startswith("mrt_")
    listing = _run(tmp_path, "token", "list")
    assert "sync" in listing and secret not in listing
    token_id = output.split("token ", 1)[1].split(" ", 1)[0]

    settings = load_settings(None, data_dir=tmp_path)
    # Revoked by another process (the CLI): seen at once only without the token cache (with
    # it, within api.token_cache_seconds; TokenService's tests hold that bound).
    settings.api.token_cache_seconds = 0
    stores = open_stores(settings.storage)
    try:
        api = create_app(settings, stores, load_keyring(settings).token_digest_keys())
        transport = httpx.ASGITransport(app=api)
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            domains = await http.get("/api/v1/domains", headers=headers)
            assert [d["name"] for d in domains.json()["items"]] == ["example.test"]
            refused = await http.post("/api/v1/users", headers=headers, json={"address": "a@b.c"})
            assert refused.status_code == 403  # a read-only token
            _run(tmp_path, "token", "revoke", token_id)
            assert (await http.get("/api/v1/domains", headers=headers)).status_code == 401
        actions = [record.action for record in stores.metadata.list_audit(PLATFORM)]
        assert actions == ["token.revoke", "token.create", "domain.create"]
    finally:
        stores.close()


def test_a_token_for_an_unknown_tenant_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["token", "create", "x", "-p", "read", "--tenant", "ghost", "--data-dir", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "no tenant 'ghost'" in result.output
    assert "Traceback" not in result.output
