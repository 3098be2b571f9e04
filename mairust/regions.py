"""The region config: which regions a deployment has, and each one's Ray cluster, stores,
relay endpoint and API address (the documented example is cluster/deploy/regions.example.toml).

The model and its loader live here, with what the platform reads of it (``[regions]`` in
mairust.toml names the file): :func:`regions_of` the config or None for a single-region
deployment, :meth:`Regions.relay_for` where mail for a tenant homed elsewhere is relayed,
:meth:`Regions.api_url_for` where an API call for such a tenant is redirected,
:meth:`Regions.submission_hint` where its users submit. Loading checks what a
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
from mairust.model.policy import normalize_relay_host

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
    # Where the region's tenants submit mail (host:port); None: not published.
    submission_endpoint: HostPort | None = None


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

    def is_remote(self, home: str | None) -> bool:
        """Whether a tenant homed in ``home`` (None: this region) lives in another region."""
        return home is not None and home != self.local

    def relay_for(self, home: str | None) -> str | None:
        """The relay endpoint mail for a tenant homed in ``home`` goes on to, None when it
        is delivered here. KeyError for a region the config does not name."""
        if not self.is_remote(home) or home is None:
            return None
        return normalize_relay_host(self.region(home).relay_endpoint)

    def api_url_for(self, home: str | None) -> str | None:
        """The API base a call for a tenant homed in ``home`` is redirected to, None when
        this region answers it. KeyError for a region the config does not name."""
        return self.region(home).api_url.rstrip("/") if self.is_remote(home) and home else None

    def submission_hint(self, home: str) -> str:
        """Where a tenant homed in ``home`` submits mail, in words for an SMTP reply."""
        try:
            endpoint = self.region(home).submission_endpoint
        except KeyError:
            endpoint = None
        where = f" at {endpoint}" if endpoint else ""
        return f"submit in its home region {home}{where}"

    def check_home(self, home: str | None) -> None:
        """ValueError unless ``home`` is None or a region of this config."""
        if home is not None and home not in {region.name for region in self.regions}:
            raise ValueError(f"no region {home!r} (regions: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [region.name for region in self.regions]


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


def regions_of(
    file: str, local: str = "", environ: Mapping[str, str] | None = None
) -> Regions | None:
    """The config of ``[regions]``: the file's regions, ``local`` (when set) naming this
    one; None when no file is named (a single-region deployment)."""
    if not file:
        return None
    data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    if local:
        data["local"] = local
    return regions_from(data, environ)
