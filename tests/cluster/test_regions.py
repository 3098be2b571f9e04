"""cluster/regions: the documented example loads, and a config that would break a region
later (an unknown key, a shared store, a password in a URL, no local region) is refused."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cluster.regions import LOCAL_REGION_VARIABLE, load_regions, regions_from

EXAMPLE = Path(__file__).resolve().parents[2] / "cluster" / "deploy" / "regions.example.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def test_the_example_loads_with_two_regions() -> None:
    regions = load_regions(EXAMPLE, environ={})
    assert [region.name for region in regions.regions] == ["eu-west", "us-east"]
    local = regions.local_region
    assert local.name == "eu-west"
    assert local.ray_address == "ray-head.eu-west.internal:6379"
    assert local.metadata.startswith("postgresql://")
    assert local.blobs == "s3://mairust-eu-west?region=eu-west-1"
    assert local.search.endswith("index=mairust-eu-west")
    assert [other.relay_endpoint for other in regions.others] == ["relay.us-east.example.net:587"]
    assert regions.region("us-east").api_url == "https://api.us-east.example.net"
    assert regions.region("us-east").submission_endpoint == "smtp.us-east.example.net:587"
    with pytest.raises(KeyError):
        regions.region("ap-south")


def test_an_empty_local_is_taken_from_the_environment() -> None:
    data = example()
    data["local"] = ""
    assert regions_from(data, environ={LOCAL_REGION_VARIABLE: "us-east"}).local == "us-east"
    with pytest.raises(ValidationError, match="local region '' is not one of"):
        regions_from(data, environ={})


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "regions.toml"
    path.write_text('local = "eu-west"\n[[regions]\n')
    with pytest.raises(ValueError):
        load_regions(path, environ={})


def _unknown_key(data: dict[str, Any]) -> None:
    data["regions"][0]["bucket"] = "mairust"


def _shared_bucket(data: dict[str, Any]) -> None:
    data["regions"][1]["blobs"] = data["regions"][0]["blobs"]


def _password_in_url(data: dict[str, Any]) -> None:
    data["regions"][0]["metadata"] = "postgresql://mairust:hunter2@db:5432/mairust"


def _bad_relay_endpoint(data: dict[str, Any]) -> None:
    data["regions"][1]["relay_endpoint"] = "relay.us-east.example.net"


def _unknown_scheme(data: dict[str, Any]) -> None:
    data["regions"][1]["search"] = "elasticsearch://es:9200?index=x"


def _duplicate_name(data: dict[str, Any]) -> None:
    data["regions"][1]["name"] = "eu-west"


def _unknown_local(data: dict[str, Any]) -> None:
    data["local"] = "ap-south"


@pytest.mark.parametrize(
    ("break_it", "refusal"),
    [
        (_unknown_key, "Extra inputs are not permitted"),
        (_shared_bucket, "regions share a blobs"),
        (_password_in_url, "no password"),
        (_bad_relay_endpoint, "is not host:port"),
        (_unknown_scheme, "scheme must be one of"),
        (_duplicate_name, "regions share a name"),
        (_unknown_local, "'ap-south' is not one of"),
    ],
)
def test_a_broken_region_config_is_refused(break_it: Any, refusal: str) -> None:
    data = example()
    break_it(data)
    with pytest.raises(ValidationError, match=refusal):
        regions_from(data, environ={})
