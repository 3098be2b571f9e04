"""The hook runtime as every process of the platform builds it (the SMTP front-end, the API,
the pipeline's ``pre_delivery``, the hook job loop): its own guarded HTTP client
(``hook_client``), the plugins' auth secrets read through the secret vault, and the
transports the process can reach beyond ``http`` (a Serve handle, injected by the caller
that may import Ray; ``webhook``, the outbox in the metadata store, is always there and a
caller may give its own, e.g. one that nudges its delivery loop), and the stdin plugins'
files kept under the data directory (each process starts its own child of each stdin
plugin it calls). The runtime it returns owns the client: ``aclose`` closes both (and the
stdin plugins' children)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mairust.config import Settings
from mairust.hooks.deployment import plugin_packages
from mairust.hooks.manifest import TransportKind
from mairust.hooks.runtime import HookRuntime, TransportFactory, hook_client
from mairust.hooks.webhook_transport import webhook_transport
from mairust.secrets.keyring import Keyring
from mairust.secrets.vault import SecretVault
from mairust.services.plugin_secrets import plugin_secret_values
from mairust.storage.protocols import MetadataStore


def platform_hook_runtime(
    settings: Settings,
    store: MetadataStore,
    keyring: Keyring,
    role: str,
    transports: Mapping[TransportKind, TransportFactory] | None = None,
) -> HookRuntime:
    """``role`` names the process in its breaker reports (``smtp``, ``api``, ...)."""
    return HookRuntime(
        store,
        hook_client(settings),
        settings.hooks,
        role=role,
        secret_values=partial(plugin_secret_values, store, SecretVault(store, keyring)),
        transports={TransportKind.WEBHOOK: webhook_transport(store), **(transports or {})},
        owns_client=True,
        packages=plugin_packages(settings.data_dir),
    )
