"""The region config: which regions a deployment has, and each one's Ray cluster, stores,
relay endpoint and API address (the documented example is cluster/deploy/regions.example.toml).

Only the model and its loader live here; how the platform uses regions (a tenant's home,
cross-region relay, API redirects) is for the code that reads it. Loading checks what a
wrong file would otherwise break much later: unknown keys, duplicate names, two regions
sharing a store, a URL of a scheme the stores do not serve, a password written in a URL.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mairust.hooks.manifest import parse_grpc_target

# The environment variable naming the local region when the file does not.
LOCAL_REGION_VARIABLE = "MAIRUST_REGION"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _host_port(value: str) -> str:
    parse_grpc_target(value)  # the same host:port rule (ValueError saying what is wrong)
    return value


def _url_of(*schemes: str) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        scheme = parts.scheme.split("+", 1)[0].lower()
        if scheme not in schemes:
            raise ValueError(f"{value!r}: the scheme must be one of {', '.join(schemes)}")
        if parts.password is not None:
            raise ValueError("no password in a region's URL: give it in the environment")
        return value

    return AfterValidator(check)


HostPort = Annotated[str, AfterValidator(_host_port)]


class Region(BaseModel):
    """One region: its own Ray cluster, stores and relay endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME.pattern)
    ray_address: HostPort
    metadata: Annotated[str, _url_of("postgresql", "postgres", "sqlite")]
    blobs: Annotated[str, _url_of("s3", "file")]
    search: Annotated[str, _url_of("opensearch", "fts5")]
    relay_endpoint: HostPort
    relay_username: str = Field(min_length=1)
    relay_password_secret: str = Field(min_length=1)
    api_url: Annotated[str, _url_of("https", "http")]


class Regions(BaseModel):
    """Every region of a deployment, and the one this process runs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    local: str
    regions: list[Region] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Regions:
        names = [region.name for region in self.regions]
        for role in ("name", "metadata", "blobs", "search", "relay_endpoint"):
            values = [getattr(region, role) for region in self.regions]
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                # Each region keeps its own stores: a shared one would mix two regions' mail.
                raise ValueError(f"regions share a {role}: {', '.join(twice)}")
        if self.local not in names:
            raise ValueError(f"local region {self.local!r} is not one of {', '.join(names)}")
        return self

    def region(self, name: str) -> Region:
        """The region named ``name``; KeyError if there is none."""
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(name)

    @property
    def local_region(self) -> Region:
        return self.region(self.local)

    @property
    def others(self) -> list[Region]:
        """The regions this one relays to."""
        return [region for region in self.regions if region.name != self.local]


def load_regions(path: Path, environ: Mapping[str, str] | None = None) -> Regions:
    """The region config in ``path`` (TOML); ValueError (pydantic's ValidationError, or a
    TOML error) saying what is wrong."""
    return regions_from(tomllib.loads(path.read_text(encoding="utf-8")), environ)


def regions_from(data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Regions:
    """The region config in ``data``; an empty ``local`` is taken from ``environ``'s
    MAIRUST_REGION (the process environment by default)."""
    values = dict(data)
    if not values.get("local"):
        env = os.environ if environ is None else environ
        values["local"] = env.get(LOCAL_REGION_VARIABLE, "")
    return Regions.model_validate(values)
