"""``mairust plugin ...`` and ``mairust hook ...``: installed plugins and their bindings to
hook points, managed by the operator on this machine. Installing and upgrading (from a
directory, a signed package or the catalog) are in :mod:`mairust.cli.plugin_packages`.

The commands act as the platform admin through the same
:class:`~mairust.services.plugins.PluginService` as ``/api/v1/admin``, so the checks and
the audit log are the API's. A running ``mairust up`` applies a change within
``hooks.bindings_cache_seconds``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mairust.cli.directory import cli_principal
from mairust.cli.options import (
    ConfigOption,
    DataDirOption,
    opened_stores,
    reported_errors,
    settings_from,
)
from mairust.errors import InvalidInput
from mairust.hooks.chain import BindingMode
from mairust.hooks.deployment import plugin_packages
from mairust.hooks.points import HookPoint
from mairust.secrets.master_key import load_keyring
from mairust.services.application import Application
from mairust.services.plugins import NewBinding

plugin_app = typer.Typer(
    help="Plugins: install (a directory with its plugin.toml, a signed package, or a name "
    "from the catalog), list, enable, disable, configure, upgrade, uninstall; publishers "
    "keygen, pack, sign and build a catalog."
)
hook_app = typer.Typer(help="Bindings of plugins to hook points: list, bind, change, unbind.")
console = Console()


@contextmanager
def operator_application(data_dir: Path | None, config: Path | None) -> Iterator[Application]:
    """The services over this machine's stores; errors become one line and exit code 1."""
    settings = settings_from(data_dir, config)
    with reported_errors(), opened_stores(settings) as stores:
        keyring = load_keyring(settings)
        yield Application.over(
            stores,
            keyring.token_digest_keys(),
            keyring=keyring,
            plugin_packages=plugin_packages(settings.data_dir),
            dkim_settings=settings.dkim,
        )


@plugin_app.command("list")
def plugin_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Installed plugins."""
    with operator_application(data_dir, config) as application:
        plugins = application.plugins.list_plugins(cli_principal())
    table = Table()
    # Names are identifiers: never cut short, however narrow the terminal.
    table.add_column("name", no_wrap=True, min_width=max((len(p.name) for p in plugins), default=4))
    for heading in ("version", "enabled", "transport", "hooks", "scopes", "permissions"):
        table.add_column(heading)
    for plugin in plugins:
        manifest = plugin.manifest
        table.add_row(
            plugin.name,
            plugin.version,
            "yes" if plugin.enabled else "no",
            str(manifest.get("transport", {}).get("kind", "")),
            ", ".join(str(h.get("point")) for h in manifest.get("hooks", [])),
            ", ".join(manifest.get("scopes", [])),
            ", ".join(manifest.get("permissions", [])),
        )
    console.print(table)


def _change(
    name: str,
    data_dir: Path | None,
    config: Path | None,
    *,
    enabled: bool | None = None,
    settings_json: str | None = None,
) -> None:
    with operator_application(data_dir, config) as application:
        plugin_config = None
        if settings_json is not None:
            try:
                plugin_config = json.loads(settings_json)
            except json.JSONDecodeError as error:
                raise InvalidInput(f"the configuration is not JSON: {error}") from None
            if not isinstance(plugin_config, dict):
                raise InvalidInput("the configuration is a JSON object")
        plugin = application.plugins.change(
            cli_principal(), name, enabled=enabled, config=plugin_config
        )
    console.print(f"{plugin.name}: {'enabled' if plugin.enabled else 'disabled'}")


@plugin_app.command("enable")
def plugin_enable(name: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Switch a plugin on (its configuration must fit its schema)."""
    _change(name, data_dir, config, enabled=True)


@plugin_app.command("disable")
def plugin_disable(name: str, data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Switch a plugin off: its bindings are skipped."""
    _change(name, data_dir, config, enabled=False)


@plugin_app.command("configure")
def plugin_configure(
    name: str,
    settings_json: Annotated[str, typer.Argument(help="The configuration as a JSON object.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Give a plugin its configuration, checked against its manifest's schema."""
    _change(name, data_dir, config, settings_json=settings_json)


@plugin_app.command("uninstall")
def plugin_uninstall(
    name: str, data_dir: DataDirOption = None, config: ConfigOption = None
) -> None:
    """Remove a plugin and its bindings."""
    with operator_application(data_dir, config) as application:
        application.plugins.uninstall(cli_principal(), name)
    console.print(f"uninstalled {name}")


@plugin_app.command("figures")
def plugin_figures(
    name: str,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The plugin's calls since it was installed, per hook point and mode (how they ended,
    what they answered, latency), and which processes shed it (circuit open)."""
    with operator_application(data_dir, config) as application:
        figures = application.plugins.figures(cli_principal(), name)
    table = Table(title=f"{figures.plugin}: calls")
    for heading in ("point", "mode", "calls", "outcomes", "verdicts", "mean ms", "p50 ≤ ms"):
        table.add_column(heading)
    table.add_column("p99 ≤ ms")
    for point in figures.points:
        table.add_row(
            point.point,
            point.mode,
            str(point.calls),
            _counted(point.by_outcome),
            _counted(point.by_verdict),
            _ms(point.latency_mean_ms),
            _ms(point.latency_p50_at_most_ms),
            _ms(point.latency_p99_at_most_ms),
        )
    console.print(table)
    if not figures.breakers:
        console.print("circuit breakers: none has opened")
    for breaker in figures.breakers:
        since = breaker.changed_at.isoformat(timespec="seconds")
        trial = ""
        if breaker.trial_after is not None:
            trial = f", one trial call after {breaker.trial_after:%H:%M:%S}"
        console.print(  # one line whatever the terminal's width: grep-able
            f"circuit in {breaker.holder}: {breaker.state} since {since}{trial} "
            f"(opened {breaker.times_opened} times)",
            soft_wrap=True,
        )


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counts.items()))


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return "slower than all buckets" if value == float("inf") else f"{value:g}"


@hook_app.command("list")
def hook_list(
    point: Annotated[HookPoint | None, typer.Option(help="Only this hook point.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Bindings by hook point, in the order they run."""
    with operator_application(data_dir, config) as application:
        bindings = application.plugins.list_bindings(cli_principal(), point)
    table = Table()
    # Ids and plugin names are what the other commands take: never cut short.
    table.add_column("id", no_wrap=True, min_width=26)
    table.add_column("point")
    table.add_column("priority")
    table.add_column(
        "plugin", no_wrap=True, min_width=max((len(b.plugin) for b in bindings), default=6)
    )
    for heading in ("mode", "enabled", "tenant", "domain"):
        table.add_column(heading)
    for binding in bindings:
        table.add_row(
            binding.id,
            binding.point,
            str(binding.priority),
            binding.plugin,
            binding.mode,
            "yes" if binding.enabled else "no",
            binding.tenant_id or "-",
            binding.domain or "-",
        )
    console.print(table)


@hook_app.command("bind")
def hook_bind(
    plugin: str,
    point: HookPoint,
    priority: Annotated[int, typer.Option(min=0, max=10_000, help="Lower runs first.")] = 100,
    mode: Annotated[BindingMode, typer.Option(help="enforce, or shadow (record only).")] = (
        BindingMode.ENFORCE
    ),
    domain: Annotated[str | None, typer.Option(help="Only mail to this domain.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Bind a plugin at a point it declares."""
    with operator_application(data_dir, config) as application:
        binding = application.plugins.bind(
            cli_principal(), NewBinding(plugin, point, priority, mode, domain=domain)
        )
    console.print(f"bound {binding.plugin} at {binding.point} ({binding.mode}): {binding.id}")


@hook_app.command("change")
def hook_change(
    binding_id: str,
    priority: Annotated[int | None, typer.Option(min=0, max=10_000)] = None,
    mode: Annotated[BindingMode | None, typer.Option()] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Reorder a binding, change its mode, or switch it on or off."""
    with operator_application(data_dir, config) as application:
        binding = application.plugins.change_binding(
            cli_principal(), binding_id, priority=priority, mode=mode, enabled=enabled
        )
    console.print(
        f"{binding.id}: priority {binding.priority}, {binding.mode}, "
        f"{'enabled' if binding.enabled else 'disabled'}"
    )


@hook_app.command("unbind")
def hook_unbind(
    binding_id: str, data_dir: DataDirOption = None, config: ConfigOption = None
) -> None:
    """Remove a binding (the plugin stays installed)."""
    with operator_application(data_dir, config) as application:
        application.plugins.unbind(cli_principal(), binding_id)
    console.print(f"unbound {binding_id}")
