"""What a learning plugin is given to learn from, and the two handlers that make one.

A plugin that learns registers a **trainer** (``@plugin.trainer``): given its current model
(bytes it wrote earlier, or None before its first training), labelled examples and its
configuration, it answers its new model as bytes. The platform keeps every model in the
metadata store with a version, and hands the latest to each replica through the plugin's
**model loader** (``@plugin.model_loader``), called once a replica has loaded the plugin
(None: no training yet, the plugin's default). Each example is the message as the plugin's
hook requests show it (only its manifest's scopes), so it learns from what it will see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mairust.hooks.wire import HookRequest

Config = Mapping[str, Any]  # the plugin's configuration (as ``plugin.Config``)


@dataclass(frozen=True, slots=True)
class TrainingExample:
    label: str  # one of the labels the manifest's [learning] table declares
    request: HookRequest  # the message, built for the plugin's scopes


Trainer = Callable[[bytes | None, Sequence[TrainingExample], Config], bytes]
ModelLoader = Callable[[bytes | None], None]


class NotLearning(LookupError):
    """The plugin has no trainer."""
