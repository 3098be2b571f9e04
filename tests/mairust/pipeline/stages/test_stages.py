from __future__ import annotations

import pytest

from mairust.pipeline.stages import DEFAULT_STAGES, STAGES, build_stages


def test_default_pipeline_is_named_stages_in_order():
    assert DEFAULT_STAGES == (
        "parse",
        "route",
        "reports",
        "pre_delivery",
        "store",
        "index",
        "post_receive",
        "dmarc_reports",
    )
    assert [stage.name for stage in build_stages()] == list(DEFAULT_STAGES)
    for stage in STAGES.values():
        assert stage.description


def test_unknown_stage_names_fail_at_build_time():
    with pytest.raises(ValueError, match="unknown pipeline stage"):
        build_stages(("parse", "rout"))
