"""The composition root: the ``mairust`` command, ``mairust up``, Ray and Serve wiring.

Ray reads some settings from the environment when it is imported or started, so they are
set here, before any module of this package imports ``ray`` (DESIGN §7); a value already in
the environment wins. Ray passes the environment on to the processes it starts.

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: without it Ray binds to the machine's network
  address even with a 127.0.0.1 node IP.
- ``RAY_USAGE_STATS_ENABLED=0``: usage stats would try to reach the internet.
- ``RAY_worker_maximum_startup_concurrency``: Ray starts only as many worker processes at a
  time as the node has CPUs (two here), so the Serve proxy and API replica, asked for last,
  queued behind every actor; `mairust up` starts about ten at once.
- ``RAY_enable_metrics_collection=false``: Ray's own metrics (each process exporting to the
  dashboard agent every few seconds) feed a dashboard that `mairust up` does not run;
  MaiRust's metrics are the API's ``/metrics``.
- ``RAY_SERVE_CONTROL_LOOP_INTERVAL_S=0.25`` (Serve's default 0.1): the Serve controller
  was the busiest idle process (2.4 % of a core); at 0.5 s it used 1.0 %, but each
  deployment step of a start waits up to one interval, so a quarter second is the trade.
- ``RAY_worker_niceness=0``: Ray starts every worker process at niceness 15, below its own
  daemons and below the SMTP clients on the same machine; MaiRust's actors run at 0, and the
  pipeline workers lower themselves to ``cluster.pipeline_worker_nice`` so the front-end
  comes first.
"""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_worker_maximum_startup_concurrency", "12")
os.environ.setdefault("RAY_enable_metrics_collection", "false")
os.environ.setdefault("RAY_SERVE_CONTROL_LOOP_INTERVAL_S", "0.25")
os.environ.setdefault("RAY_worker_niceness", "0")
