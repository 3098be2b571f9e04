"""``plugin.toml``: what a plugin declares, read and checked before anything of it runs.

A manifest naming an unknown hook point, data scope, permission or transport, a scope its
hook point does not have, or a config schema that is not a JSON Schema is refused with
one message per fault, each naming the key (``hooks[0].point: ...``).
"""

from __future__ import annotations

import enum
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mairust.errors import InvalidInput
from mairust.hooks.chain import BindingMode, FailurePolicy
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import POINTS, DataScope, HookPoint

MANIFEST_NAME = "plugin.toml"
_NAME = re.compile(r"[a-z][a-z0-9-]{1,63}")
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")


class TransportKind(enum.StrEnum):
    SERVE = "serve"  # a Python plugin as its own Ray Serve deployment
    HTTP = "http"  # JSON over HTTP to an outside service
    GRPC = "grpc"
    STDIN = "stdin"
    WEBHOOK = "webhook"


# What this version of the platform can run: grpc, stdin and webhook come with the plugin
# ecosystem.
SUPPORTED_TRANSPORTS = frozenset({TransportKind.HTTP, TransportKind.SERVE})
# A serve entrypoint: a module of the plugin's directory (a package) and the SDK ``Plugin``
# in it, e.g. "plugin:plugin" or "rules.engine:plugin".
_SERVE_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


class ManifestError(InvalidInput):
    """A manifest that cannot be used; ``faults`` says each thing wrong with it."""

    def __init__(self, faults: list[str]) -> None:
        super().__init__(f"{MANIFEST_NAME} is not valid: " + "; ".join(faults))
        self.faults = faults


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginInfo(_Strict):
    name: str
    version: str
    description: str = Field(min_length=1, max_length=500)
    author: str = Field(min_length=1, max_length=200)
    license: str = Field(min_length=1, max_length=100)
    changelog: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("a name is 2-64 of a-z, 0-9 and -, starting with a letter")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError("a version is MAJOR.MINOR.PATCH (semantic versioning)")
        return value


class Transport(_Strict):
    kind: TransportKind
    # serve: "package.module:Class"; http: the plugin's URL.
    entrypoint: str = Field(min_length=1, max_length=2000)
    # http: one of the plugin's secrets, sent as "Authorization: Bearer <value>" so the
    # service can tell the platform's calls from anyone else's.
    auth_secret: str | None = Field(None, min_length=1, max_length=64)
    # http: what is spoken over it: "mairust" (the HookRequest / HookResponse JSON) or
    # "rspamd" (the entrypoint is a Rspamd scanner's /checkv2: mairust.hooks.rspamd_transport).
    protocol: Literal["mairust", "rspamd"] = "mairust"


class HookDeclaration(_Strict):
    point: HookPoint
    priority: int = Field(100, ge=0, le=10_000)
    mode: BindingMode = BindingMode.ENFORCE


class Timeouts(_Strict):
    call_ms: int = Field(200, ge=1, le=60_000)
    on_timeout: FailurePolicy = FailurePolicy.ACCEPT
    on_error: FailurePolicy = FailurePolicy.ACCEPT


class Autoscaling(_Strict):
    """A serve plugin's replicas (Ray Serve's ``autoscaling_config``)."""

    min_replicas: int = Field(1, ge=0, le=1000)
    max_replicas: int = Field(1, ge=1, le=1000)
    target_ongoing_requests: float = Field(2.0, gt=0)
    # How long the load must stay high (low) before a replica is added (removed).
    upscale_delay_s: float = Field(30.0, ge=0, le=3600)
    downscale_delay_s: float = Field(600.0, ge=0, le=3600)
    # The window the ongoing requests are averaged over.
    look_back_period_s: float = Field(30.0, gt=0, le=3600)
    # Requests a replica holds at once (batches are cut from these).
    max_ongoing_requests: int = Field(64, ge=1, le=10_000)
    max_batch_size: int = Field(32, ge=1, le=1000)
    # How long a replica's batch waits to fill; 0: it takes what is there (each caller
    # sends a batch already, and a lone request waits for nothing).
    batch_wait_ms: float = Field(0.0, ge=0, le=1000)


class Resources(_Strict):
    num_cpus: float = Field(0.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)


class Manifest(_Strict):
    plugin: PluginInfo
    transport: Transport
    hooks: list[HookDeclaration] = Field(min_length=1)
    scopes: list[DataScope] = Field(default_factory=lambda: [DataScope.ENVELOPE])
    permissions: list[HookPermission] = Field(default_factory=list)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    resources: Resources = Field(default_factory=Resources)
    # A JSON Schema the plugin's configuration must satisfy.
    config_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    # Names of the secrets it needs (kept in the secret store, never in the config).
    secrets: list[str] = Field(default_factory=list)


def parse_manifest(text: str) -> Manifest:
    """The manifest in ``text`` (TOML); ManifestError listing every fault otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError([f"not TOML: {error}"]) from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        raise ManifestError([_fault(e) for e in error.errors()]) from None
    faults = _cross_checks(manifest)
    if faults:
        raise ManifestError(faults)
    return manifest


def load_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:  # ValueError: a NUL or an unencodable character
        raise ManifestError([f"cannot read {path!r}: {error}"]) from None
    return parse_manifest(text)


def _cross_checks(manifest: Manifest) -> list[str]:
    faults: list[str] = []
    if manifest.transport.kind not in SUPPORTED_TRANSPORTS:
        supported = ", ".join(sorted(SUPPORTED_TRANSPORTS))
        faults.append(
            f"transport.kind: {manifest.transport.kind.value} is not available in this "
            f"version (it runs {supported})"
        )
    if manifest.transport.kind is TransportKind.SERVE and not _SERVE_ENTRYPOINT.fullmatch(
        manifest.transport.entrypoint
    ):
        faults.append(
            "transport.entrypoint: a serve plugin names module:attribute in its directory "
            '(e.g. "plugin:plugin")'
        )
    if (
        manifest.transport.protocol != "mairust"
        and manifest.transport.kind is not TransportKind.HTTP
    ):
        faults.append("transport.protocol: only an http plugin speaks another protocol")
    for index, hook in enumerate(manifest.hooks):
        beyond = set(manifest.scopes) - POINTS[hook.point].scopes
        if beyond:
            names = ", ".join(sorted(beyond))
            faults.append(f"hooks[{index}].point: {hook.point.value} has no {names} to give")
    points = [hook.point for hook in manifest.hooks]
    if len(points) != len(set(points)):
        faults.append("hooks: a hook point is declared twice")
    auth_secret = manifest.transport.auth_secret
    if auth_secret is not None and auth_secret not in manifest.secrets:
        faults.append(f"transport.auth_secret: {auth_secret!r} is not one of its secrets")
    if manifest.autoscaling.min_replicas > manifest.autoscaling.max_replicas:
        faults.append("autoscaling: min_replicas is above max_replicas")
    scaling = manifest.autoscaling
    if scaling.max_batch_size > scaling.max_ongoing_requests:
        faults.append("autoscaling: max_batch_size is above max_ongoing_requests")
    try:
        Draft202012Validator.check_schema(manifest.config_schema)
    except SchemaError as error:
        faults.append(f"config_schema: not a JSON Schema: {error.message}")
    return faults


def _fault(error: Any) -> str:
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = str(error["msg"])
    if error["type"] == "enum":
        message = f"{error['input']!r} is not one of {error['ctx']['expected']}"
    elif error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{where or 'plugin.toml'}: {message}"
