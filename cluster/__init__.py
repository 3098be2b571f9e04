"""The composition root: the ``mairust`` command, ``mairust up``, Ray and Serve wiring.

Ray reads some settings from the environment when it is imported, so they are set
here, before any module of this package imports ``ray`` (DESIGN §7): without
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` Ray binds to the machine's network address even
with a 127.0.0.1 node IP. Usage stats would try to reach the internet: off.
"""

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
