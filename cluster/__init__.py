"""The composition root: the ``mairust`` command, ``mairust up``, Ray and Serve wiring.

Ray reads some settings from the environment when it is imported, so they are set
here, before any module of this package imports ``ray`` (DESIGN §7): without
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` Ray binds to the machine's network address even
with a 127.0.0.1 node IP. Usage stats would try to reach the internet: off.
Ray starts every worker process at niceness 15, below its own daemons and below the SMTP
clients on the same machine: MaiRust's actors run at 0 instead, and the pipeline workers
lower themselves to ``cluster.pipeline_worker_nice`` so the front-end comes first.
"""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_worker_niceness", "0")
