"""The configured plugin catalog, under ``/api/v1/admin/plugin-catalog`` (platform admin
only): what it offers beside what is installed, install and upgrade by name.

Not under ``/admin/plugins/catalog``: ``catalog`` is a valid plugin name, and that path is
an installed plugin's. Routes parse and present;
:class:`~mairust.services.plugin_catalog.PluginCatalog` decides.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from mairust.api.deps import AppDep, PlatformAdmin, SettingsDep
from mairust.api.problems import ProblemError, ProblemKind, problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_plugins import PluginOut
from mairust.plugin_packages.source import CatalogUnreachable
from mairust.services.plugin_catalog import CatalogOffer, PluginCatalog

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/admin/plugin-catalog",
    tags=["hooks"],
    responses=problem_responses(401, 403, 422, 502, 503),
)

CATALOG_UNREACHABLE = ProblemKind("catalog-unreachable", "Catalog unreachable", 502)
PluginName = Annotated[
    str, Path(min_length=1, max_length=64, description="The plugin's name in the catalog.")
]


class CatalogPluginOut(BaseModel):
    name: str
    version: str = Field(description="The newest version this MaiRust runs (else the newest).")
    description: str
    transport: str = Field(description='"" when the index does not say.')
    hooks: list[str]
    scopes: list[str]
    permissions: list[str]
    changelog: str
    requires_mairust: str = Field(description='A PEP 440 specifier; "": any version.')
    runs_here: bool = Field(description="This MaiRust runs some version of it.")
    signed_by: str = Field(description="The key id the index says its package is signed by.")
    installed_version: str | None = Field(description="null: not installed here.")
    upgradable: bool = Field(description="Installed, and the catalog holds a newer version.")

    @classmethod
    def from_offer(cls, offer: CatalogOffer) -> CatalogPluginOut:
        entry = offer.entry
        return cls(
            name=entry.name,
            version=entry.version,
            description=entry.description,
            transport=entry.transport,
            hooks=entry.hooks,
            scopes=entry.scopes,
            permissions=entry.permissions,
            changelog=entry.changelog,
            requires_mairust=entry.requires_mairust,
            runs_here=offer.runs_here,
            signed_by=entry.key_id,
            installed_version=offer.installed,
            upgradable=offer.upgradable,
        )


class CatalogOut(BaseModel):
    location: str | None = Field(description="The catalog's directory or URL; null: none set.")
    mairust_version: str
    items: list[CatalogPluginOut]


class CatalogUpgradeOut(BaseModel):
    plugin: PluginOut
    upgraded: bool = Field(description="false: the installed version is the newest it runs.")


@router.get("", response_model=CatalogOut, summary="List the catalog's plugins")
async def list_catalog(
    principal: PlatformAdmin,
    application: AppDep,
    settings: SettingsDep,
    q: Annotated[
        str, Query(max_length=200, description="Only names or descriptions holding this.")
    ] = "",
) -> CatalogOut:
    """One item per plugin of `[plugins] catalog`, by name, with what its manifest
    declares and the version installed here. No catalog configured: no items (and
    `location` null); a catalog that cannot be read is a 502 saying why."""
    catalog = PluginCatalog.from_settings(application.plugins, settings)
    try:
        view = await catalog.browse(principal, q)
    except CatalogUnreachable as error:
        raise ProblemError(CATALOG_UNREACHABLE, str(error)) from None
    return CatalogOut(
        location=view.location or None,
        mairust_version=view.mairust_version,
        items=[CatalogPluginOut.from_offer(offer) for offer in view.offers],
    )


@router.post(
    "/{name}/install",
    response_model=PluginOut,
    status_code=status.HTTP_201_CREATED,
    summary="Install a plugin from the catalog",
    responses=problem_responses(404, 409),
)
async def install_from_catalog(
    name: PluginName, principal: PlatformAdmin, application: AppDep, settings: SettingsDep
) -> PluginOut:
    """The newest version this MaiRust runs, downloaded into the cache, its signature
    verified against `[plugins] trusted_keys`, then installed and bound as from a
    directory (off until configured and given the secrets it names)."""
    catalog = PluginCatalog.from_settings(application.plugins, settings)
    try:
        plugin = await catalog.install(principal, name)
    except CatalogUnreachable as error:
        raise ProblemError(CATALOG_UNREACHABLE, str(error)) from None
    return PluginOut.from_plugin(plugin)


@router.post(
    "/{name}/upgrade",
    response_model=CatalogUpgradeOut,
    summary="Upgrade an installed plugin from the catalog",
    responses=problem_responses(404, 409),
)
async def upgrade_from_catalog(
    name: PluginName, principal: PlatformAdmin, application: AppDep, settings: SettingsDep
) -> CatalogUpgradeOut:
    """To the newest version in the catalog this MaiRust runs; `upgraded` false when the
    installed one is that already (nothing changed)."""
    catalog = PluginCatalog.from_settings(application.plugins, settings)
    try:
        result = await catalog.upgrade(principal, name)
    except CatalogUnreachable as error:
        raise ProblemError(CATALOG_UNREACHABLE, str(error)) from None
    return CatalogUpgradeOut(plugin=PluginOut.from_plugin(result.plugin), upgraded=result.upgraded)
