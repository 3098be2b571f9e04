"""A domain's received DMARC aggregate reports over REST: listed newest first in pages with
their pass/fail counts for the domain's own tenant admins; another tenant's domain is a
404, a mailbox user a 403, bad paging a problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from mairust.auth.dmarc_aggregate import parse_aggregate_report
from mairust.model.dmarc_reports import StoredReport
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Role
from mairust.storage.stores import Stores
from tests.mairust.api.conftest import Connect, issue_token
from tests.support.dmarc_samples import MINIMAL

ADMIN = (Permission.READ, Permission.WRITE, Permission.ADMIN)
REPORTS = "/api/v1/domains/example.test/dmarc-reports"


class Tenants:
    def __init__(self, app: FastAPI, stores: Stores) -> None:
        metadata = stores.metadata
        self.a = metadata.create_tenant("a").id
        self.b = metadata.create_tenant("b").id
        metadata.add_domain("example.test", self.a)
        metadata.add_domain("b.example", self.b)
        ann = metadata.add_mailbox("ann@example.test")
        self.reader_a = issue_token(app, Role.TENANT_ADMIN, self.a, permissions=ADMIN[:1])
        self.token_b = issue_token(app, Role.TENANT_ADMIN, self.b, permissions=ADMIN)
        self.user_a = issue_token(app, Role.USER, self.a, ann.id, permissions=ADMIN)
        report = parse_aggregate_report(MINIMAL)
        self.ids = []
        for n in range(3):
            numbered = replace(report, metadata=replace(report.metadata, report_id=f"r-{n}"))
            stored = StoredReport(
                new_id(), self.a, "example.test", numbered, datetime.now(UTC) - timedelta(hours=n)
            )
            metadata.add_dmarc_report(stored)
            self.ids.append(stored.id)


@pytest.fixture
def tenants(app: FastAPI, stores: Stores) -> Tenants:
    return Tenants(app, stores)


@pytest.fixture
async def http(connect: Connect) -> AsyncIterator[httpx.AsyncClient]:
    async with connect() as client:
        yield client


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_reports_are_listed_in_pages_with_their_counts(http, tenants) -> None:
    first = await http.get(REPORTS, params={"limit": 2}, headers=as_(tenants.reader_a))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [r["id"] for r in page["items"]] == sorted(tenants.ids, reverse=True)[:2]
    item = page["items"][0]
    assert (item["domain"], item["org_name"], item["policy"]) == (
        "example.test",
        "rx.test",
        "quarantine",
    )
    assert (item["messages"], item["passed"], item["failed"], item["sources"]) == (5, 3, 2, 2)
    rest = await http.get(
        REPORTS, params={"limit": 2, "after": page["next"]}, headers=as_(tenants.reader_a)
    )
    assert rest.status_code == 200, rest.text
    assert [r["id"] for r in rest.json()["items"]] == sorted(tenants.ids, reverse=True)[2:]
    assert rest.json()["next"] is None


async def test_another_tenant_a_user_and_bad_paging_are_refused(
    http, tenants, expect_problem
) -> None:
    expect_problem(await http.get(REPORTS, headers=as_(tenants.token_b)), 404)
    expect_problem(
        await http.get("/api/v1/domains/nowhere.test/dmarc-reports", headers=as_(tenants.token_b)),
        404,
    )
    expect_problem(await http.get(REPORTS, headers=as_(tenants.user_a)), 403)
    expect_problem(await http.get(REPORTS, params={"limit": 0}, headers=as_(tenants.reader_a)), 422)
    own = await http.get("/api/v1/domains/b.example/dmarc-reports", headers=as_(tenants.token_b))
    assert own.status_code == 200 and own.json() == {"items": [], "next": None}
