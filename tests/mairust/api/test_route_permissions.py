"""Every API route declares who may call it, and none answers without a token.

The lists are generated from the app's route table, so a new endpoint cannot be missed:
it fails here until it declares a permission (``allowed``) or is marked public.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from mairust.api import create_app
from mairust.api.deps import PERMISSION_MARK, PUBLIC_MARK
from mairust.config import Settings
from mairust.storage.factory import migrate, open_stores
from tests.mairust.api.conftest import TOKEN_KEYS
from tests.support.route_table import api_routes


def _api_routes() -> list[APIRoute]:
    # A throwaway app: only its route table is read.
    from pathlib import Path
    from tempfile import mkdtemp

    settings = Settings(data_dir=Path(mkdtemp()))
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    try:
        app = create_app(settings, stores, TOKEN_KEYS)
        return [r for r in api_routes(app.routes) if r.path.startswith("/api/")]
    finally:
        stores.close()


def _marks(dependant: Dependant) -> list[Any]:
    found = []
    for sub in dependant.dependencies:
        call = sub.call
        for mark in (PERMISSION_MARK, PUBLIC_MARK):
            if call is not None and hasattr(call, mark):
                found.append(getattr(call, mark))
        found.extend(_marks(sub))
    return found


ROUTES = _api_routes()
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/callbacks/{job}"),
    ("POST", "/api/v1/unsubscribe/{token}"),
}
CALLS = sorted((method, route.path) for route in ROUTES for method in (route.methods or ()))


def test_the_route_table_is_not_empty() -> None:
    assert len(CALLS) >= 18


@pytest.mark.parametrize(("method", "path"), CALLS)
def test_every_route_declares_a_permission_or_is_public(method: str, path: str) -> None:
    route = next(r for r in ROUTES if r.path == path and method in (r.methods or set()))
    marks = _marks(route.dependant)
    if (method, path) in PUBLIC:
        assert marks == [True], f"{method} {path} should be public and only public"
    else:
        assert marks and all(isinstance(m, tuple) for m in marks), f"{method} {path}"


@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if c not in PUBLIC])
async def test_every_protected_route_needs_the_bearer_token(
    anonymous, expect_problem, method: str, path: str
) -> None:
    concrete = re.sub(r"\{[a-z_]+\}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", path)
    response = await anonymous.request(method, concrete, json={})
    problem = expect_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert problem["type"] == "urn:mairust:problem:unauthorized"
