"""The BOLA matrix, in process: every tenant-scoped route against another tenant's and
another user's ids (cases in tests/support/bola.py; the live run on PostgreSQL + S3 +
OpenSearch is tests/integration/test_e2e_api_isolation.py).

The rows are generated from the app's route table, so a new endpoint cannot be missed: a
route without a case fails ``test_every_route_has_a_case``. Platform-only routes (the
guard's least role is ``admin``): a tenant admin gets 403, the operator gets 2xx.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.events import Event, RecordType
from mairust.model.ids import new_id
from mairust.model.principal import Role
from tests.mairust.api.conftest import ADMIN_TOKEN, SECOND_SETTINGS, Connect, MailSeeder
from tests.mairust.api.test_route_permissions import CALLS, PUBLIC, ROUTES, _marks
from tests.support.bola import CASES, World, build_world, check_case, platform_call


def _guard_role(method: str, path: str) -> Role:
    route = next(r for r in ROUTES if r.path == path and method in (r.methods or ()))
    roles = [mark[1] for mark in _marks(route.dependant) if isinstance(mark, tuple)]
    return max(roles, key=[Role.USER, Role.TENANT_ADMIN, Role.ADMIN].index)


GUARDED = [call for call in CALLS if call not in PUBLIC]
PLATFORM_ONLY = [call for call in GUARDED if _guard_role(*call) is Role.ADMIN]
TENANT_SCOPED = [call for call in GUARDED if call not in PLATFORM_ONLY]


def test_every_route_has_a_case() -> None:
    missing = [f"{m} {p}" for m, p in TENANT_SCOPED if (m, p) not in CASES]
    assert not missing, f"routes without a BOLA case: {missing}"
    assert not set(CASES) - set(TENANT_SCOPED), "cases for routes that do not exist"
    assert len(TENANT_SCOPED) >= 14 and len(PLATFORM_ONLY) >= 4


# The DNS check asks a loopback port where nothing answers (the check then reports each
# record as an error, which is still an answer); webhook endpoints on loopback.
pytestmark = SECOND_SETTINGS


@pytest.fixture
async def world(connect: Connect, serving: None, seeder: MailSeeder) -> World:
    async def deliver(address: str, raw: bytes) -> str:
        mailbox = seeder.stores.metadata.find_mailbox(address)
        assert mailbox is not None
        # The seeder stores and indexes it, and records its Reception, as the pipeline would.
        entry = seeder.deliver(mailbox, raw)
        seeder.stores.metadata.append_events(
            [
                Event(
                    id=new_id(),
                    tenant_id=mailbox.tenant_id,
                    kind=RecordType.RECEPTION,
                    at=entry.received_at,
                    message_id=entry.message_id,
                    recipient=address,
                )
            ]
        )
        return entry.id

    # ``serving``: the app's spool runs (the send route commits through it).
    return await build_world(connect, ADMIN_TOKEN, deliver)


@pytest.mark.parametrize(("method", "path"), TENANT_SCOPED)
async def test_another_tenant_gets_404_or_nothing_and_the_owner_gets_it(
    world: World, method: str, path: str
) -> None:
    await check_case(world, method, path)


@pytest.mark.parametrize(("method", "path"), PLATFORM_ONLY)
async def test_platform_routes_refuse_a_tenant_admin_and_serve_the_operator(
    world: World, method: str, path: str, tmp_path: Path
) -> None:
    concrete, body = await platform_call(world, method, path, tmp_path)
    async with world.client(world.tokens["a_admin"]) as http:
        refused = await http.request(method, concrete, json=body or {})
    assert refused.status_code == 403, refused.text
    async with world.client(world.tokens["operator"]) as http:
        answered = await http.request(method, concrete, json=body)
    assert 200 <= answered.status_code < 300, answered.text
