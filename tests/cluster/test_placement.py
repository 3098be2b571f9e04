"""Which nodes get an SMTP front-end, on which ports, and which node an operator names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cluster.placement import (
    SMTP_PORT_LABEL,
    SUBMISSION_PORT_LABEL,
    find_node,
    node_settings,
    smtp_nodes,
)
from mairust.config import Settings


def node(
    node_id: str, smtp: float = 1, alive: bool = True, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A node record as ``ray.nodes()`` gives it (the fields placement reads)."""
    resources = {"CPU": 1.0, "smtp": smtp} if smtp else {"CPU": 1.0}
    return {
        "NodeID": node_id,
        "Alive": alive,
        "NodeManagerAddress": "127.0.0.1",
        "Resources": resources,
        "Labels": {"ray.io/node-id": node_id, **(labels or {})},
    }


HEAD = node("aaaa" * 14, smtp=0)
FIRST = node("bbbb" * 14, labels={SMTP_PORT_LABEL: "2526", SUBMISSION_PORT_LABEL: "2588"})
SECOND = node("cccc" * 14)


def test_only_live_nodes_with_the_smtp_resource_get_a_front_end() -> None:
    gone = node("dddd" * 14, alive=False)
    found = smtp_nodes([SECOND, HEAD, gone, FIRST])
    assert [n.node_id for n in found] == [FIRST["NodeID"], SECOND["NodeID"]]
    assert found[0].frontend_name == "smtp-frontend-bbbbbbbbbbbb"
    assert (found[0].smtp_port, found[0].submission_port, found[0].submissions_port) == (
        2526,
        2588,
        None,
    )
    assert found[1].smtp_port is None


def test_labels_name_the_ports_of_their_node_and_the_config_the_rest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    labelled, plain = smtp_nodes([FIRST, SECOND])
    mine = node_settings(settings, labelled)
    assert (mine.smtp.port, mine.smtp.submission_port) == (2526, 2588)
    assert mine.smtp.hostname == settings.smtp.hostname
    assert (settings.smtp.port, settings.smtp.submission_port) == (2525, 2587)  # untouched
    assert node_settings(settings, plain) is settings


def test_a_label_that_is_no_port_is_an_error() -> None:
    with pytest.raises(ValueError, match="is not a port"):
        smtp_nodes([node("eeee" * 14, labels={SMTP_PORT_LABEL: "smtp"})])


def test_an_operator_names_a_node_by_id_prefix_or_front_end_name() -> None:
    nodes = [HEAD, FIRST, SECOND]
    assert find_node(nodes, "bbbbbb").node_id == FIRST["NodeID"]
    assert find_node(nodes, "smtp-frontend-cccccccccccc").node_id == SECOND["NodeID"]
    with pytest.raises(LookupError, match="no live SMTP node"):
        find_node(nodes, "aaaaaa")  # the head carries no SMTP
    with pytest.raises(LookupError, match="no live SMTP node"):
        find_node(nodes, "bbb")  # too short to be an id
    with pytest.raises(LookupError, match="names 2 SMTP nodes"):
        find_node(nodes, "127.0.0.1")  # both on one address: give the id
    assert find_node([HEAD, FIRST], "127.0.0.1").node_id == FIRST["NodeID"]
