"""A two-region config for the region tests: regions ``a`` and ``b`` on loopback."""

from __future__ import annotations

from pathlib import Path


def write_regions(
    path: Path,
    local: str,
    *,
    relay_a: str = "127.0.0.1:2525",
    relay_b: str = "127.0.0.1:2526",
    api_a: str = "http://127.0.0.1:8001",
    api_b: str = "http://127.0.0.1:8002",
    login_b: tuple[str, str] = ("relay-b", "sec_relay_b"),
    submission_b: str | None = None,
) -> Path:
    """Write a regions TOML naming ``local`` as this region (``login_b``: the user name
    and secret id ``a`` logs in to ``b``'s relay endpoint with; ``submission_b``: where
    ``b``'s tenants submit, unset if None); returns ``path``."""
    regions = []
    logins = {"a": ("relay-a", "sec_relay_a"), "b": login_b}
    for index, (name, relay, api) in enumerate((("a", relay_a, api_a), ("b", relay_b, api_b))):
        username, secret = logins[name]
        submission = submission_b if name == "b" else None
        extra = f'submission_endpoint = "{submission}"\n' if submission else ""
        regions.append(
            f"""
[[regions]]
name = "{name}"
ray_address = "127.0.0.1:{6379 + index}"
metadata = "sqlite:///{path.parent}/{name}/metadata.db"
blobs = "file://{path.parent}/{name}/blobs"
search = "fts5://{path.parent}/{name}/search.db"
relay_endpoint = "{relay}"
relay_username = "{username}"
relay_password_secret = "{secret}"
api_url = "{api}"
{extra}"""
        )
    path.write_text(f'local = "{local}"\n' + "".join(regions), encoding="utf-8")
    return path
