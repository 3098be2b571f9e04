"""Application builders for Serve's deploy config (``serve deploy FILE``, or a KubeRay
RayService's ``serveConfigV2``): the API application and one serve plugin's application,
each built from the ``args`` mapping its entry in the config carries.

Serve calls a builder with that mapping, validated into the builder's one pydantic
parameter, so a misspelled or missing argument fails the deploy with the field's name.
The builders wrap :func:`serve.api_ingress.build_api_app` and
:func:`serve.plugin_deployment.build_plugin_app`, the ones ``mairust up`` uses; what differs
is where the settings come from (a TOML file on every node, named in ``args``) and that
nothing binds the replicas' gRPC servers to loopback (on a cluster of several machines
Ray's defaults are the right ones).

No ``from __future__ import annotations`` here: Serve reads the parameter's annotation as a
class to know it is a pydantic model.
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ray.serve import Application

from mairust.config import load_settings
from mairust.hooks.deployment import PluginApp, app_name
from mairust.hooks.manifest import TransportKind, load_manifest
from mairust.hooks.permissions import HookPermission
from mairust.services.plugins import config_faults
from serve.api_ingress import build_api_app
from serve.plugin_deployment import build_plugin_app

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ApiAppArgs(BaseModel):
    """``args`` of the API application."""

    model_config = ConfigDict(extra="forbid")

    # MaiRust's TOML configuration, at this path on every node (None: the environment's
    # MAIRUST_* variables alone).
    config_file: Path | None = None
    # Serve logs each request at INFO; WARNING keeps replicas' logs to what matters.
    log_level: LogLevel = "WARNING"


class PluginAppArgs(BaseModel):
    """``args`` of one serve plugin's application."""

    model_config = ConfigDict(extra="forbid")

    # The plugin's directory (its plugin.toml and code), at this path on every node.
    package: Path
    # Its configuration, checked against the manifest's config_schema here.
    config: dict[str, Any] = Field(default_factory=dict)
    log_level: LogLevel = "WARNING"


def api_app(args: ApiAppArgs) -> Application:
    """The API ingress; Serve's config names it ``serve.config_apps:api_app``."""
    settings = load_settings(args.config_file)
    return build_api_app(settings, log_level=args.log_level)  # type: ignore[no-any-return]


def plugin_app(args: PluginAppArgs) -> Application:
    """One serve plugin; Serve's config names it ``serve.config_apps:plugin_app``, and the
    application must be named ``plugin-<the manifest's name>``: the SMTP edge finds it so.

    A plugin with the ``state`` permission is refused: its replicas open the metadata
    store, which only the reconciler of ``mairust up`` wires in.
    """
    package = args.package.expanduser().resolve()
    manifest = load_manifest(package)
    name = manifest.plugin.name
    if manifest.transport.kind is not TransportKind.SERVE:
        raise ValueError(f"plugin {name}: transport is {manifest.transport.kind.value}, not serve")
    if HookPermission.STATE in manifest.permissions:
        raise ValueError(f"plugin {name} keeps state: deploy it with the platform's reconciler")
    faults = config_faults(manifest, args.config)
    if faults:
        raise ValueError(f"plugin {name}: configuration refused: {'; '.join(faults)}")
    app = PluginApp(
        name,
        manifest.plugin.version,
        package,
        manifest.transport.entrypoint,
        dict(args.config),
        manifest.autoscaling,
        manifest.resources,
    )
    return build_plugin_app(app, args.log_level)  # type: ignore[no-any-return]


def expected_app_name(args: PluginAppArgs) -> str:
    """The application name the SMTP edge looks up for the plugin in ``args``."""
    return app_name(load_manifest(args.package.expanduser().resolve()).plugin.name)
