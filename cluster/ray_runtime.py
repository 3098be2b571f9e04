"""Start (or join) Ray so that every socket stays on loopback unless configured otherwise.

DESIGN §7: Ray binds to the machine's network address unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set and the node IP is 127.0.0.1.

The job has no runtime environment: the loopback patch of Serve replicas
(``cluster.loopback``) runs in the API replica's constructor, not as a job-wide
``worker_process_setup_hook``. A job-wide hook made every actor process import Ray Serve
for nothing, and a job runtime environment keeps the workers Ray prestarts from ever
hosting an actor (their environment does not match), so they idled beside the ones
started for the actors.
"""

from __future__ import annotations

import logging
import os

import ray

from mairust.config import Settings

# Ray's notice that token authentication is on, logged at WARNING on every ray.init: on is
# the intended state, so it is no warning for a MaiRust operator.
_AUTH_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"

# Every MaiRust driver (`mairust up`, `mairust cluster up`, and the commands that look at or
# drain a running one) joins this namespace, so named actors are found across drivers.
RAY_NAMESPACE = "mairust"

_log = logging.getLogger(__name__)


def start_ray(settings: Settings) -> None:
    """A local single-node Ray on 127.0.0.1, or join ``cluster.ray_address`` when set."""
    if os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
        _log.warning("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is not 0: Ray may bind beyond loopback")
    logging.getLogger(_AUTH_NOTICE_LOGGER).setLevel(logging.ERROR)
    if settings.cluster.ray_address:
        _log.info("joining Ray cluster at %s", settings.cluster.ray_address)
        ray.init(
            address=settings.cluster.ray_address,
            namespace=RAY_NAMESPACE,
            logging_level=logging.WARNING,
        )
        return
    # "local": always a Ray of our own. A plain ray.init() joins whatever cluster the
    # machine's Ray address file (or RAY_ADDRESS) names, e.g. one a test or another
    # operator's `ray start` left running.
    ray.init(
        address="local",
        _node_ip_address="127.0.0.1",
        namespace=RAY_NAMESPACE,
        include_dashboard=False,
        object_store_memory=settings.cluster.object_store_memory_mb * 1024 * 1024,
        logging_level=logging.WARNING,
        configure_logging=True,
    )
