"""mairust.regions: where a tenant homed in another region gets its mail and API calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.regions import regions_of
from tests.support.regions import write_regions


def test_no_file_is_a_single_region() -> None:
    assert regions_of("") is None


def test_a_tenant_homed_elsewhere_is_relayed_and_redirected(tmp_path: Path) -> None:
    path = write_regions(tmp_path / "regions.toml", "a", relay_b="Relay.B.Test:587")
    regions = regions_of(str(path))
    assert regions is not None and regions.local == "a"
    # Home here (named, or NULL): delivered and answered here.
    for home in (None, "a"):
        assert regions.relay_for(home) is None
        assert regions.api_url_for(home) is None
    # Home in b: its relay endpoint (normalised like a relay rule's target) and API.
    assert regions.relay_for("b") == "relay.b.test:587"
    assert regions.api_url_for("b") == "http://127.0.0.1:8002"
    with pytest.raises(KeyError):
        regions.relay_for("nowhere")
    with pytest.raises(ValueError, match="nowhere"):
        regions.check_home("nowhere")
    regions.check_home("b")


def test_local_in_settings_overrides_the_file(tmp_path: Path) -> None:
    path = write_regions(tmp_path / "regions.toml", "a")
    regions = regions_of(str(path), local="b")
    assert regions is not None and regions.local == "b"
    assert regions.relay_for("b") is None
    assert regions.relay_for("a") == "127.0.0.1:2525"
    with pytest.raises(ValueError, match="local region"):
        regions_of(str(path), local="c")


def test_the_submission_hint_names_the_home_and_its_endpoint_when_published(
    tmp_path: Path,
) -> None:
    path = write_regions(tmp_path / "regions.toml", "b", submission_b="smtp.b.test:587")
    regions = regions_of(str(path))
    assert regions is not None
    assert regions.submission_hint("b") == "submit in its home region b at smtp.b.test:587"
    assert regions.submission_hint("a") == "submit in its home region a"  # none published
    bad = write_regions(tmp_path / "bad.toml", "a", submission_b="no port here")
    with pytest.raises(ValueError, match="submission_endpoint"):
        regions_of(str(bad))
