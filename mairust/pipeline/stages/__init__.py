"""Pipeline stages, one per module; ``STAGES`` maps each stage name to its class."""

from __future__ import annotations

from mairust.pipeline.hook_loop import DeliveryHooks
from mairust.pipeline.stages.base import Stage
from mairust.pipeline.stages.dmarc_reports import DmarcReportStage
from mairust.pipeline.stages.index import IndexStage
from mairust.pipeline.stages.parse import ParseStage
from mairust.pipeline.stages.post_receive import PostReceiveStage
from mairust.pipeline.stages.pre_delivery import PreDeliveryStage
from mairust.pipeline.stages.reports import ReportsStage
from mairust.pipeline.stages.route import RouteStage
from mairust.pipeline.stages.store import StoreStage

STAGES: dict[str, type[Stage]] = {
    stage.name: stage
    for stage in (
        ParseStage,
        RouteStage,
        PreDeliveryStage,
        StoreStage,
        IndexStage,
        PostReceiveStage,
        ReportsStage,
        DmarcReportStage,
    )
}

DEFAULT_STAGES: tuple[str, ...] = (
    "parse",
    "route",
    "reports",
    "pre_delivery",
    "store",
    "index",
    "post_receive",
    "dmarc_reports",
)


def build_stages(
    names: tuple[str, ...] = DEFAULT_STAGES, hooks: DeliveryHooks | None = None
) -> tuple[Stage, ...]:
    """Instantiate the named stages in order; an unknown name fails loudly at start-up.
    ``hooks`` is the pre_delivery point's bridge (None: that stage asks no plugin)."""
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise ValueError(f"unknown pipeline stage(s) {unknown}; known: {sorted(STAGES)}")
    return tuple(
        PreDeliveryStage(hooks) if name == PreDeliveryStage.name else STAGES[name]()
        for name in names
    )
