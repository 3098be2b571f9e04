"""``mairust up``: the whole platform on one machine — local Ray, SQLite, files, FTS5.

Start order: stores (migrated) → domains → leases of a previous run handed back →
Ray → pipeline workers → dispatcher → auth checkers → SMTP front-end → API on Serve.
Stop order is the reverse of the data flow's entry: SMTP stops accepting first, then
the dispatcher drains, then the API and Ray go.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

import ray
from pydantic import SecretStr
from ray import serve

from actors.auth_checker import AuthCheckerActor
from actors.dispatcher import DispatcherActor
from actors.frontend import FrontEndActor
from actors.indexer import IndexerActor
from actors.pipeline_worker import PipelineWorkerActor
from cluster.ray_runtime import RUNTIME_ENV, start_ray
from mairust.cli.admin_token import ensure_admin_token
from mairust.cli.directory import ensure_domain
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.pipeline.dispatcher import dispatcher_identity, owner_prefix
from mairust.search.indexing import reindex_all
from serve.api_ingress import build_api_app

_log = logging.getLogger(__name__)

DISPATCHER = "dispatcher"


@dataclass(frozen=True, slots=True)
class Endpoints:
    smtp: tuple[str, int]
    submission: tuple[str, int]
    api: tuple[str, int]
    admin_token: str


class EmbeddedCluster:
    """Owns the Ray side of one `mairust up`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._frontend: Any = None
        self._dispatcher: Any = None
        self._workers: list[Any] = []
        self._auth_checkers: list[Any] = []
        self._indexer: Any = None

    def prepare_stores(self) -> str:
        """Migrate, create the --domain domains, hand back leases of a dead run; the token."""
        settings = self._settings
        with opened_stores(settings) as stores:
            for domain in settings.domains:
                if ensure_domain(stores.metadata, domain):
                    _log.info("created local domain %s", domain)
            if stores.search.needs_reindex:
                _log.info("rebuilding the search index (its layout changed) ...")
                count = reindex_all(stores)
                _log.info("search index rebuilt: %d entries", count)
            # Leases this node's dispatcher (same data dir) left when its run died come back
            # now; another dispatcher's leases on a shared database are left alone. The
            # dispatcher does the same again whenever Ray restarts it.
            identity = dispatcher_identity(settings.data_dir)
            released = stores.metadata.release_leases(owner_prefix(identity))
            if released:
                _log.info("handed back %d queue rows leased by a previous run", released)
        return ensure_admin_token(settings)

    def start(self) -> Endpoints:
        settings = self._settings
        token = self.prepare_stores()
        # Every component (the API replicas above all) checks the same token.
        settings.api.admin_token = SecretStr(token)
        start_ray(settings)
        # Actors reach each other by name: a handle passed as a constructor argument is
        # held by reference, and Ray cannot promise to rebuild such an actor on restart.
        worker_names = [f"pipeline-worker-{n}" for n in range(settings.cluster.pipeline_workers)]
        self._workers = [
            PipelineWorkerActor.options(name=name).remote(settings) for name in worker_names
        ]
        self._dispatcher = DispatcherActor.options(name=DISPATCHER).remote(settings, worker_names)
        self._indexer = IndexerActor.options(name="indexer").remote(settings)
        checker_names = [
            f"auth-checker-{n}"
            for n in range(settings.auth.checkers if settings.auth.enabled else 0)
        ]
        self._auth_checkers = [
            AuthCheckerActor.options(name=name).remote(settings) for name in checker_names
        ]
        self._frontend = FrontEndActor.options(name="smtp-frontend").remote(
            settings, DISPATCHER, checker_names
        )
        listening = {
            name: (host, port) for name, host, port in ray.get(self._frontend.listening.remote())
        }
        serve.start(
            http_options={"host": settings.api.host, "port": settings.api.port},
            logging_config={"log_level": "WARNING"},
        )
        serve.run(build_api_app(settings, RUNTIME_ENV), name="api", route_prefix="/")
        return Endpoints(
            smtp=listening["smtp"],
            submission=listening["submission"],
            api=(settings.api.host, settings.api.port),
            admin_token=token,
        )

    def stop(self) -> None:
        """Graceful stop; safe to call after a partial start."""
        # SMTP first (no new mail), then the dispatcher (batches in flight finish).
        for step, actor in (
            ("SMTP front-end", self._frontend),
            ("dispatcher", self._dispatcher),
            ("indexer", self._indexer),
        ):
            if actor is None:
                continue
            try:
                ray.get(actor.stop.remote(), timeout=60)
            except (ray.exceptions.RayError, TimeoutError) as exc:
                _log.warning("stopping the %s: %s", step, exc)
        if ray.is_initialized():
            try:
                serve.shutdown()  # type: ignore[no-untyped-call]
            finally:
                ray.shutdown()


def wait_for_stop_signal() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(1.0):
        pass
