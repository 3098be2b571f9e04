"""Training learning plugins: labelled stored messages in, a new versioned state out.

A plugin whose manifest has a ``[learning]`` table is trained with messages already stored
(mailbox entries, read from the body store), each labelled with one of the manifest's
labels. Each message is shown to the plugin as its hook requests show it (only the
manifest's scopes, ``payload.build_request``), its trainer turns the newest state and the
examples into the next state, and that is stored as the next version in the metadata
store (``plugin_models``), the truth every replica follows: the reconciler of ``mairust up``
sees the new version on its next pass and rolls the plugin's replicas onto it. Two
trainings at once cannot both win: the second is a Conflict and changes nothing.

The trainer runs in this process (the API's), from the plugin's stored package, loaded
once per version: training is counting over a few messages, not a job for a replica.

A release from quarantine is an example too: a released message carrying one of a
plugin's ``release_tags`` was judged wrongly by it, and is learnt as its ``release_label``.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mairust.errors import InvalidInput, NotFound
from mairust.hooks.deployment import PluginPackages
from mairust.hooks.manifest import Learning, Manifest
from mairust.hooks.payload import build_request
from mairust.model.mailbox import MailboxEntry
from mairust.model.message import Envelope
from mairust.model.plugin_models import PluginModel
from mairust.model.plugins import InstalledPlugin
from mairust.model.principal import Permission, Principal, Role
from mairust.plugin_sdk.learning import TrainingExample
from mairust.plugin_sdk.loading import load_plugin, package_name
from mairust.plugin_sdk.plugin import Plugin
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.storage.stores import Stores

_log = logging.getLogger(__name__)

# A state travels to every replica with its deployment: it must stay small.
MAX_MODEL_BYTES = 16 * 1024 * 1024
MAX_EXAMPLES = 500

PluginLoader = Callable[[InstalledPlugin, Manifest], Plugin]


@dataclass(frozen=True, slots=True)
class Labelled:
    entry_id: str
    label: str


class PluginTraining:
    def __init__(
        self,
        stores: Stores,
        audit: AuditTrail,
        packages: PluginPackages | None,
        clock: Clock = utc_now,
        loader: PluginLoader | None = None,
    ) -> None:
        """``packages`` is where serve plugins' code is kept (None: nothing can be
        trained); ``loader`` gives a plugin's ``Plugin`` (default: from its package)."""
        self._stores = stores
        self._audit = audit
        self._packages = packages
        self._clock = clock
        self._loader = loader or self._from_package
        self._loaded: dict[str, tuple[str, Plugin]] = {}
        self._lock = threading.Lock()

    def train(self, principal: Principal, name: str, examples: Sequence[Labelled]) -> PluginModel:
        """Trains plugin ``name`` with the entries ``examples`` name; NotFound for an
        unknown plugin, InvalidInput for one that does not learn, a label it does not
        know or entries not found; Conflict when it was trained meanwhile."""
        require(principal, Permission.ADMIN, Role.ADMIN)
        plugin, learning = self._learner(name)
        if not examples or len(examples) > MAX_EXAMPLES:
            raise InvalidInput(f"give 1 to {MAX_EXAMPLES} examples")
        unknown = sorted({e.label for e in examples} - set(learning.labels))
        if unknown:
            raise InvalidInput(
                f"plugin {name} learns the labels {', '.join(learning.labels)}, "
                f"not {', '.join(unknown)}"
            )
        ids = [e.entry_id for e in examples]
        found = {e.id: e for e in self._stores.metadata.get_entries(principal.scope, ids)}
        missing = [entry_id for entry_id in dict.fromkeys(ids) if entry_id not in found]
        if missing:
            raise InvalidInput(f"no message {', '.join(missing)}")
        entries = [(found[e.entry_id], e.label) for e in examples]
        state = self._train(plugin, entries, "api")
        self._audit.record(
            principal,
            "plugin.train",
            name,
            None,
            {"version": state.version, "examples": state.examples},
        )
        return state

    def learn_from_release(self, entry: MailboxEntry, tags: Sequence[str]) -> None:
        """A release from quarantine: each learning plugin whose ``release_tags`` the
        released message carries learns it as its ``release_label``. Never raises: a
        release stands whatever a plugin makes of it."""
        for plugin in self._stores.metadata.list_plugins():
            learning = Manifest.model_validate(plugin.manifest).learning
            if learning is None or learning.release_label is None or not plugin.enabled:
                continue
            if not set(learning.release_tags) & set(tags):
                continue
            try:
                state = self._train(plugin, [(entry, learning.release_label)], "release")
            except Exception as error:  # logged: the release is done either way
                _log.warning(
                    "plugin %s did not learn from release %s: %r", plugin.name, entry.id, error
                )
                continue
            _log.info(
                "plugin %s learnt released message %s as %s (state %d)",
                plugin.name,
                entry.id,
                learning.release_label,
                state.version,
            )

    def _learner(self, name: str) -> tuple[InstalledPlugin, Learning]:
        plugin = self._stores.metadata.get_plugin(name)
        if plugin is None:
            raise NotFound(f"no plugin {name!r}")
        learning = Manifest.model_validate(plugin.manifest).learning
        if learning is None:
            raise InvalidInput(f"plugin {name} does not learn (its manifest has no [learning])")
        return plugin, learning

    def _train(
        self, plugin: InstalledPlugin, entries: Sequence[tuple[MailboxEntry, str]], source: str
    ) -> PluginModel:
        manifest = Manifest.model_validate(plugin.manifest)
        point = manifest.hooks[0].point
        examples = [
            TrainingExample(
                label,
                build_request(
                    point,
                    manifest.scopes,
                    _envelope_of(entry),
                    self._stores.blobs.get(entry.blob_key),
                    message_id=entry.message_id,
                ),
            )
            for entry, label in entries
        ]
        states = self._stores.metadata
        newest = states.get_plugin_model(plugin.name)
        try:
            new_model = self._loader(plugin, manifest).train(
                newest.model if newest is not None else None, examples, plugin.config
            )
        except ValueError as error:  # the plugin refused the examples
            raise InvalidInput(f"plugin {plugin.name} refused the examples: {error}") from None
        if len(new_model) > MAX_MODEL_BYTES:
            raise InvalidInput(
                f"plugin {plugin.name}'s trained model is {len(new_model)} bytes "
                f"(at most {MAX_MODEL_BYTES})"
            )
        state = PluginModel(
            plugin.name,
            (newest.version if newest is not None else 0) + 1,
            new_model,
            len(examples),
            source,
            self._clock(),
        )
        states.add_plugin_model(state)
        return state

    def _from_package(self, plugin: InstalledPlugin, manifest: Manifest) -> Plugin:
        """The plugin's code from its stored package, once per version."""
        if self._packages is None:
            raise InvalidInput("plugins cannot be trained by this process")
        with self._lock:
            cached = self._loaded.get(plugin.name)
            if cached is not None and cached[0] == plugin.version:
                return cached[1]
            # A new version: its modules, not the old version's from sys.modules.
            prefix = package_name(plugin.name)
            for module in [m for m in sys.modules if re.match(rf"{prefix}(\.|$)", m)]:
                del sys.modules[module]
            loaded = load_plugin(
                self._packages.path(plugin.name, plugin.version),
                manifest.transport.entrypoint,
                plugin.name,
            )
            self._loaded[plugin.name] = (plugin.version, loaded)
            return loaded


def _envelope_of(entry: MailboxEntry) -> Envelope:
    """What is known of the message's envelope once stored (its sender as the header
    says, the mailbox it was stored for)."""
    return Envelope(
        mail_from=entry.from_addr, rcpt_tos=(entry.mailbox_address,), received_at=entry.received_at
    )
