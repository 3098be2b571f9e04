from __future__ import annotations

import pytest

from mairust.cli.directory import ensure_domain
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.errors import InvalidInput
from mairust.model.scope import PLATFORM


def test_ensure_domain_creates_domain_and_tenant_once(tmp_path):
    with opened_stores(Settings(data_dir=tmp_path)) as stores:
        assert ensure_domain(stores.metadata, "Example.TEST")
        assert not ensure_domain(stores.metadata, "example.test")
        assert ensure_domain(stores.metadata, "other.test", tenant="example.test")
        domains = stores.metadata.list_domains(PLATFORM)
        assert sorted(d.name for d in domains) == ["example.test", "other.test"]
        assert len({d.tenant_id for d in domains}) == 1
        assert [t.name for t in stores.metadata.list_tenants()] == ["example.test"]
        with pytest.raises(InvalidInput):
            ensure_domain(stores.metadata, "not a domain")
