"""Which nodes of a Ray cluster get an SMTP front-end, on which ports, and which node an
operator means when naming one.

A node carries SMTP when it offers the ``smtp`` custom resource (``ray start --resources
'{"smtp": 1}'``): `mairust cluster up` starts one front-end there, so adding such a node adds
SMTP capacity. The front-end listens on the config's ports unless the node's labels name
others (``ray start --labels mairust.io/smtp-port=2526,mairust.io/submission-port=2588``):
one front-end per machine needs no label; several nodes on one machine (a test, a big host
split in two) each need ports of their own.

These functions read the node records ``ray.nodes()`` returns (plain dicts), so they are
tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mairust.config import Settings

SMTP_RESOURCE = "smtp"
SMTP_PORT_LABEL = "mairust.io/smtp-port"
SUBMISSION_PORT_LABEL = "mairust.io/submission-port"
SUBMISSIONS_PORT_LABEL = "mairust.io/submissions-port"
FRONTEND_PREFIX = "smtp-frontend-"
# Characters of the node id in a front-end's name: unique enough, short enough to read.
NODE_ID_CHARS = 12


@dataclass(frozen=True, slots=True)
class SmtpNode:
    """A live node that carries the ``smtp`` resource, and the ports its labels name."""

    node_id: str
    address: str
    smtp_port: int | None = None
    submission_port: int | None = None
    submissions_port: int | None = None

    @property
    def frontend_name(self) -> str:
        """The name of this node's front-end actor (found by it from another driver)."""
        return f"{FRONTEND_PREFIX}{self.node_id[:NODE_ID_CHARS]}"

    @property
    def short_id(self) -> str:
        return self.node_id[:NODE_ID_CHARS]


def smtp_nodes(nodes: Iterable[Mapping[str, Any]]) -> list[SmtpNode]:
    """The live nodes with an ``smtp`` resource, in a stable order (address, node id)."""
    found = [
        SmtpNode(
            node_id=str(node["NodeID"]),
            address=str(node.get("NodeManagerAddress", "")),
            smtp_port=_port_label(node, SMTP_PORT_LABEL),
            submission_port=_port_label(node, SUBMISSION_PORT_LABEL),
            submissions_port=_port_label(node, SUBMISSIONS_PORT_LABEL),
        )
        for node in nodes
        if node.get("Alive") and float(node.get("Resources", {}).get(SMTP_RESOURCE, 0)) > 0
    ]
    return sorted(found, key=lambda node: (node.address, node.node_id))


def node_settings(settings: Settings, node: SmtpNode) -> Settings:
    """``settings`` with the listener ports the node's labels name in place of the config's."""
    ports = {
        key: value
        for key, value in (
            ("port", node.smtp_port),
            ("submission_port", node.submission_port),
            ("submissions_port", node.submissions_port),
        )
        if value is not None
    }
    if not ports:
        return settings
    return settings.model_copy(update={"smtp": settings.smtp.model_copy(update=ports)})


def find_node(nodes: Iterable[Mapping[str, Any]], wanted: str) -> SmtpNode:
    """The SMTP node an operator names: by node id (or a prefix of at least six
    characters), by its front-end's name, or by address when one node has it."""
    candidates = smtp_nodes(nodes)
    key = wanted.strip()
    if key.startswith(FRONTEND_PREFIX):
        key = key.removeprefix(FRONTEND_PREFIX)
    matches = [node for node in candidates if len(key) >= 6 and node.node_id.startswith(key)]
    if not matches:
        matches = [node for node in candidates if node.address == key]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{node.short_id} ({node.address})" for node in candidates) or "none"
    if matches:
        raise LookupError(f"{wanted!r} names {len(matches)} SMTP nodes; give a node id: {known}")
    raise LookupError(f"no live SMTP node is {wanted!r}; SMTP nodes: {known}")


def _port_label(node: Mapping[str, Any], label: str) -> int | None:
    value = node.get("Labels", {}).get(label)
    if value is None:
        return None
    if not str(value).isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError(f"node {node['NodeID']}: label {label}={value!r} is not a port")
    return int(value)
