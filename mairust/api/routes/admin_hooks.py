"""Installed plugins and their hook bindings, under ``/api/v1/admin`` (platform admin only).

Routes parse and present; :class:`~mairust.services.plugins.PluginService` decides.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from mairust.api.deps import AppDep, PlatformAdmin
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_plugins import (
    BindingChange,
    BindingCreate,
    BindingList,
    BindingOut,
    CallSummary,
    DryRunOut,
    DryRunRequest,
    HookCallList,
    HookCallOut,
    PluginChange,
    PluginFiguresOut,
    PluginInstall,
    PluginList,
    PluginOut,
)
from mairust.hooks.points import HookPoint
from mairust.model.message import Envelope
from mairust.services.plugins import NewBinding
from mairust.smtp.trace import normalize_line_endings

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/admin",
    tags=["hooks"],
    responses=problem_responses(401, 403, 404, 503),
)

PluginName = Annotated[str, Path(min_length=1, max_length=64, description="The plugin's name.")]
BindingId = Annotated[str, Path(min_length=1, max_length=64, description="The binding's id.")]


@router.get("/plugins", response_model=PluginList, summary="List installed plugins")
def list_plugins(principal: PlatformAdmin, application: AppDep) -> PluginList:
    """Every installed plugin by name: version, on or off, transport, the hook points,
    scopes and permissions it declares, its configuration and its whole manifest."""
    plugins = application.plugins.list_plugins(principal)
    return PluginList(items=[PluginOut.from_plugin(p) for p in plugins])


@router.post(
    "/plugins",
    response_model=PluginOut,
    status_code=status.HTTP_201_CREATED,
    summary="Install a plugin from a directory",
    responses=problem_responses(409, 422),
)
def install_plugin(body: PluginInstall, principal: PlatformAdmin, application: AppDep) -> PluginOut:
    """Reads and checks the directory's `plugin.toml` (422 naming each fault), records the
    plugin and binds it at the hook points it declares. Installed off when its
    configuration does not fit its schema yet."""
    return PluginOut.from_plugin(application.plugins.install(principal, body.path))


@router.get("/plugins/{name}", response_model=PluginOut, summary="Read an installed plugin")
def get_plugin(name: PluginName, principal: PlatformAdmin, application: AppDep) -> PluginOut:
    """One installed plugin; 404 if none has that name."""
    return PluginOut.from_plugin(application.plugins.get_plugin(principal, name))


@router.patch(
    "/plugins/{name}",
    response_model=PluginOut,
    summary="Switch a plugin on or off, or configure it",
    responses=problem_responses(422),
)
def change_plugin(
    name: PluginName, body: PluginChange, principal: PlatformAdmin, application: AppDep
) -> PluginOut:
    """A configuration is checked against the plugin's schema (422 naming each fault); a
    plugin whose configuration does not fit cannot be switched on."""
    changed = application.plugins.change(principal, name, enabled=body.enabled, config=body.config)
    return PluginOut.from_plugin(changed)


@router.post(
    "/plugins/{name}/upgrade",
    response_model=PluginOut,
    summary="Upgrade a plugin from a directory",
    responses=problem_responses(409, 422),
)
def upgrade_plugin(
    name: PluginName, body: PluginInstall, principal: PlatformAdmin, application: AppDep
) -> PluginOut:
    """The new version's manifest replaces the old one; bindings stay, except at points the
    new version no longer declares."""
    return PluginOut.from_plugin(application.plugins.upgrade(principal, name, body.path))


@router.delete(
    "/plugins/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Uninstall a plugin",
)
def uninstall_plugin(name: PluginName, principal: PlatformAdmin, application: AppDep) -> Response:
    """The plugin and its bindings are gone."""
    application.plugins.uninstall(principal, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/plugins/{name}/calls", response_model=HookCallList, summary="A plugin's recorded calls"
)
def plugin_calls(
    name: PluginName,
    principal: PlatformAdmin,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[str | None, Query(max_length=64, description="A cursor.")] = None,
) -> HookCallList:
    """The plugin's log: each call (point, mode, outcome, verdict, latency, error, what of
    its answer was dropped), newest first, with counts and latency percentiles over the
    page. Calls are recorded in batches, so the newest second may not be here yet."""
    calls, summary = application.plugins.calls(principal, name, limit, before)
    return HookCallList(
        items=[HookCallOut.from_call(call) for call in calls],
        next=calls[-1].id if len(calls) == limit else None,
        summary=CallSummary.from_summary(summary),
    )


@router.get(
    "/plugins/{name}/figures",
    response_model=PluginFiguresOut,
    summary="A plugin's running totals and circuit breakers",
)
def plugin_figures(
    name: PluginName, principal: PlatformAdmin, application: AppDep
) -> PluginFiguresOut:
    """Since the plugin was installed, per hook point and mode: its calls, how they ended,
    what they answered, their latency (mean, and the buckets the median and the 99th
    percentile fall in); and which processes shed its calls now, their circuit open after
    it kept failing. Shadow bindings' figures stand beside the enforced ones."""
    return PluginFiguresOut.from_figures(application.plugins.figures(principal, name))


@router.get("/hooks", response_model=BindingList, summary="List hook bindings")
def list_bindings(
    principal: PlatformAdmin,
    application: AppDep,
    point: Annotated[HookPoint | None, Query(description="Only this hook point.")] = None,
) -> BindingList:
    """Every binding, by hook point, then in the order they run (priority, then age)."""
    bindings = application.plugins.list_bindings(principal, point)
    return BindingList(items=[BindingOut.from_binding(b) for b in bindings])


@router.post(
    "/hooks",
    response_model=BindingOut,
    status_code=status.HTTP_201_CREATED,
    summary="Bind a plugin to a hook point",
    responses=problem_responses(422),
)
def bind(body: BindingCreate, principal: PlatformAdmin, application: AppDep) -> BindingOut:
    """The plugin must declare the point; `shadow` runs it and records its verdict
    without applying it."""
    wanted = NewBinding(
        body.plugin, body.point, body.priority, body.mode, body.tenant_id, body.domain
    )
    return BindingOut.from_binding(application.plugins.bind(principal, wanted))


@router.patch(
    "/hooks/{binding_id}",
    response_model=BindingOut,
    summary="Reorder, change the mode of, or switch a binding",
    responses=problem_responses(422),
)
def change_binding(
    binding_id: BindingId, body: BindingChange, principal: PlatformAdmin, application: AppDep
) -> BindingOut:
    """Fields left out stay as they are; a binding switched off is not called."""
    changed = application.plugins.change_binding(
        principal, binding_id, priority=body.priority, mode=body.mode, enabled=body.enabled
    )
    return BindingOut.from_binding(changed)


@router.delete(
    "/hooks/{binding_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a hook binding",
)
def unbind(binding_id: BindingId, principal: PlatformAdmin, application: AppDep) -> Response:
    """The plugin is no longer called at that point (it stays installed)."""
    application.plugins.unbind(principal, binding_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/hooks/{point}/test",
    response_model=DryRunOut,
    summary="Dry-run a hook point against a message",
    responses=problem_responses(422),
)
async def dry_run(
    point: HookPoint, body: DryRunRequest, principal: PlatformAdmin, application: AppDep
) -> DryRunOut:
    """Asks the plugins bound at `point` now about the posted message, as the SMTP edge
    would, and answers each one's verdict and latency, what would be enforced and the
    reply it would give. Nothing is stored, delivered or recorded."""
    envelope = Envelope(
        mail_from=body.mail_from,
        rcpt_tos=tuple(body.rcpt_tos),
        received_at=datetime.now(UTC),
        helo=body.helo,
        client_ip=body.client_ip,
    )
    message = None
    if body.message is not None:
        message = normalize_line_endings(body.message.encode("utf-8"))
    ran = await application.plugins.dry_run(principal, point, envelope, message)
    return DryRunOut.from_dry_run(point, ran)
