"""``plugin.toml``: what a plugin declares, read and checked before anything of it runs.

A manifest naming an unknown hook point, data scope, permission or transport, a scope its
hook point does not have, or a config schema that is not a JSON Schema is refused with
one message per fault, each naming the key (``hooks[0].point: ...``).
"""

from __future__ import annotations

import enum
import ipaddress
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
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


# A serve entrypoint: a module of the plugin's directory (a package) and the SDK ``Plugin``
# in it, e.g. "plugin:plugin" or "rules.engine:plugin".
_SERVE_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
_URL = re.compile(r"https?://[^\s/?#]+\S*")
# A grpc entrypoint: "host:port", a DNS name or an IPv4 address, or an IPv6 one in brackets.
_GRPC_TARGET = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})"
)


def parse_grpc_target(target: str) -> tuple[str, int]:
    """A grpc plugin's ``host:port`` as (host without brackets, port); ValueError saying
    what is wrong."""
    match = _GRPC_TARGET.fullmatch(target)
    if match is None:
        raise ValueError(f"{target!r} is not host:port (an IPv6 address in brackets)")
    host, port = match.group("host"), int(match.group("port"))
    if not 1 <= port <= 65535:
        raise ValueError(f"{target!r}: port {port} is not 1-65535")
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{target!r}: [{host}] is not an IPv6 address") from None
    return host, port


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
    # The MaiRust versions it runs on, a PEP 440 specifier (">=0.1,<0.3"); empty: any.
    # Installing it elsewhere is refused, and a catalog offers it only to these versions.
    requires_mairust: str = Field("", max_length=200)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("a name is 2-64 of a-z, 0-9 and -, starting with a letter")
        return value

    @field_validator("requires_mairust")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError("not a PEP 440 version specifier (e.g. >=0.1,<0.3)") from None
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.fullmatch(value):
            raise ValueError("a version is MAJOR.MINOR.PATCH (semantic versioning)")
        return value


class Transport(_Strict):
    kind: TransportKind
    # serve: "package.module:Class"; http, webhook: the plugin's URL; grpc: its
    # "host:port"; stdin: a command line (split as a shell would, a relative program path
    # taken in the plugin's installed directory).
    entrypoint: str = Field(min_length=1, max_length=2000)
    # http, grpc: one of the plugin's secrets, sent as "Authorization: Bearer <value>" so the
    # service can tell the platform's calls from anyone else's. webhook (required): the
    # Standard Webhooks signing secret (whsec_...) its deliveries are signed with.
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


_LABEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class Learning(_Strict):
    """A plugin that learns (``mairust.plugin_sdk.learning``): the labels its examples may
    carry, and which label a release from quarantine of mail it tagged stands for."""

    labels: list[str] = Field(min_length=1, max_length=32)
    release_label: str | None = None
    # A released message carrying one of these tags is an example of release_label.
    release_tags: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        if not all(_LABEL.fullmatch(label) for label in value):
            raise ValueError("a label is 1-64 of a-z, 0-9, _ and -, not starting with _ or -")
        return value


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
    # Set by a plugin that learns from labelled examples (the train route, releases).
    learning: Learning | None = None


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
    if manifest.transport.kind is TransportKind.SERVE and not _SERVE_ENTRYPOINT.fullmatch(
        manifest.transport.entrypoint
    ):
        faults.append(
            "transport.entrypoint: a serve plugin names module:attribute in its directory "
            '(e.g. "plugin:plugin")'
        )
    if manifest.transport.kind is TransportKind.STDIN:
        faults.extend(_stdin_faults(manifest.transport))
    if manifest.transport.kind is TransportKind.WEBHOOK:
        faults += _webhook_faults(manifest)
    if manifest.transport.kind is TransportKind.GRPC:
        try:
            parse_grpc_target(manifest.transport.entrypoint)
        except ValueError as error:
            faults.append(f"transport.entrypoint: a grpc plugin names host:port: {error}")
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
    if (
        HookPermission.STATE in manifest.permissions
        and manifest.transport.kind is not TransportKind.SERVE
    ):
        faults.append("permissions: state is kept for serve plugins only")
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
    learning = manifest.learning
    if learning is not None and learning.release_label not in (None, *learning.labels):
        faults.append("learning.release_label: not one of learning.labels")
    if learning is not None and manifest.transport.kind is not TransportKind.SERVE:
        faults.append("learning: only a serve plugin can learn (its state goes to its replicas)")
    try:
        Draft202012Validator.check_schema(manifest.config_schema)
    except SchemaError as error:
        faults.append(f"config_schema: not a JSON Schema: {error.message}")
    return faults


def _stdin_faults(transport: Transport) -> list[str]:
    faults = []
    try:
        argv = shlex.split(transport.entrypoint)
    except ValueError as error:
        argv = []
        faults.append(f"transport.entrypoint: not a command line: {error}")
    if not argv and not faults:
        faults.append("transport.entrypoint: a stdin plugin names the command that runs it")
    if transport.auth_secret is not None:
        # A child process of the platform is not reached over a network: no bearer.
        faults.append("transport.auth_secret: a stdin plugin is not given one")
    return faults


def _webhook_faults(manifest: Manifest) -> list[str]:
    """A webhook is delivered later, signed: it can give no verdict, and needs a secret."""
    faults = [
        f"hooks[{index}].point: a webhook plugin cannot give a verdict (its call is "
        f"delivered later), so it runs only at asynchronous points (post_receive), "
        f"not at {hook.point.value}"
        for index, hook in enumerate(manifest.hooks)
        if POINTS[hook.point].synchronous
    ]
    if not _URL.fullmatch(manifest.transport.entrypoint):
        faults.append("transport.entrypoint: a webhook plugin's entrypoint is its http(s) URL")
    if manifest.transport.auth_secret is None:
        faults.append(
            "transport.auth_secret: a webhook plugin names the secret its calls are signed "
            "with (one of its secrets)"
        )
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
