"""Ray actors that host the core in the cluster.

Each module keeps the logic in the core (``mairust``) and only makes it remote:
the SMTP front-end, the queue dispatcher (lease manager) and the pipeline workers.
Every actor asks for ``num_cpus=0`` (they are I/O bound and share the node's cores)
and restarts on failure.
"""
