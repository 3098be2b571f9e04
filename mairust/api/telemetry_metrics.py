"""The processes' own counters in the API's ``/metrics``: each process's Prometheus text
(from a :data:`~mairust.telemetry.TelemetrySource`, asked at scrape time) parsed and
relabelled with ``process``, so one scrape of any API replica shows every front-end,
pipeline worker and delivery loop.

A counter is never summed across processes here: a process that restarts starts its
counters from 0, and Prometheus' ``rate()`` handles that per series, not in a sum. The
``process`` label is the actor's name (bounded by the configured pool sizes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from mairust.telemetry import TelemetrySource

_log = logging.getLogger(__name__)
PROCESS_LABEL = "process"


class ProcessTelemetryCollector:
    def __init__(self, source: TelemetrySource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        try:
            snapshots = self._source()
        except Exception:  # a scrape must answer with what the API itself knows
            _log.exception("could not read the processes' telemetry")
            return
        merged: dict[str, Metric] = {}
        for snapshot in snapshots:
            for family in text_string_to_metric_families(snapshot.exposition):
                if family.name.endswith("_created"):
                    continue  # creation times: a series each, for nothing we chart
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue
                    labels = {**sample.labels, PROCESS_LABEL: snapshot.process}
                    into.add_sample(sample.name, labels, sample.value)
        yield from merged.values()
