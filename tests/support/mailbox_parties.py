"""The callers of a mailbox isolation matrix: tenant A with two users (jane, the owner, and
joe), tenant B, and a real token for each (issued by the app's token service)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from mairust.model.directory import Mailbox
from mairust.model.principal import Role
from tests.mairust.api.conftest import MailSeeder, issue_token


@dataclass
class Parties:
    jane: Mailbox  # the owner, tenant A
    joe: Mailbox  # another user of tenant A
    owner: dict[str, str]  # jane's user token
    tenant_admin: dict[str, str]  # tenant A's admin
    neighbour: dict[str, str]  # joe's user token
    stranger: dict[str, str]  # tenant B's admin

    @property
    def outsiders(self) -> list[tuple[str, dict[str, str]]]:
        return [("another tenant", self.stranger), ("another user", self.neighbour)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mailbox_parties(app: FastAPI, seeder: MailSeeder) -> Parties:
    a = seeder.tenant("example.com")
    b = seeder.tenant("other.example")
    jane = seeder.mailbox("jane@example.com")
    joe = seeder.mailbox("joe@example.com")
    seeder.mailbox("olga@other.example")
    return Parties(
        jane=jane,
        joe=joe,
        owner=bearer(issue_token(app, Role.USER, a.id, jane.id)),
        tenant_admin=bearer(issue_token(app, Role.TENANT_ADMIN, a.id)),
        neighbour=bearer(issue_token(app, Role.USER, a.id, joe.id)),
        stranger=bearer(issue_token(app, Role.TENANT_ADMIN, b.id)),
    )
