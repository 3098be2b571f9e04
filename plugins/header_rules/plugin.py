"""The header-rules plugin: its configuration is a list of rules, each a header field name,
a regular expression searched in that field's values and what a match does: ``tag`` (the
rule's tag) or ``reject`` (with the rule's reply, or the platform's). The first rejecting
match decides; every tagging match adds its tag. It is given the header fields only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mairust.plugin_sdk import Config, HookRequest, HookResponse, Plugin, proceed, reject, tag

plugin = Plugin("header-rules")


@dataclass(frozen=True, slots=True)
class Rule:
    header: str  # lower case
    pattern: re.Pattern[str]
    action: str  # "tag" or "reject"
    tag: str
    reply: str | None


@plugin.pre_receive
def check(request: HookRequest, config: Config) -> HookResponse:
    headers = request.headers or []
    tags: list[str] = []
    for rule in rules_of(config):
        values = (value for name, value in headers if name.lower() == rule.header)
        if not any(rule.pattern.search(value) for value in values):
            continue
        if rule.action == "reject":
            return reject(f"{rule.header} matches {rule.pattern.pattern!r}", reply=rule.reply)
        tags.append(rule.tag)
    return tag(*tags, reason="header rules matched") if tags else proceed()


def rules_of(config: Config) -> tuple[Rule, ...]:
    """The configured rules, compiled once per configuration."""
    return _compiled(_frozen(config.get("rules", [])))


@lru_cache(maxsize=8)
def _compiled(rules: tuple[tuple[tuple[str, Any], ...], ...]) -> tuple[Rule, ...]:
    compiled = []
    for items in rules:
        rule = dict(items)
        compiled.append(
            Rule(
                str(rule["header"]).lower(),
                re.compile(str(rule["pattern"]), re.IGNORECASE),
                str(rule["action"]),
                str(rule.get("tag", "header-rule")),
                rule.get("reply"),
            )
        )
    return tuple(compiled)


def _frozen(rules: list[dict[str, Any]]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    return tuple(tuple(sorted(rule.items())) for rule in rules)
