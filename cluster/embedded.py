"""``mairust up``: the whole platform on one machine — local Ray, SQLite, files, FTS5.

Start-up runs side by side what does not depend on each other (docs/benchmarks.md has the
measurements): the stores are migrated while Ray starts; Serve (its controller, then the
proxy and the API replica: the longest chain) starts in a thread while the actors are
created, and no actor is waited for before the next is created. ``start`` returns only
once SMTP listens, the dispatcher and a pipeline worker answer and ``GET /healthz``
answers 200 through Serve's proxy: the banner printed after it is true. Actors get their
peers' names and look them up on first use (``actors.named``), so the order they come up
in does not matter.

Stop order is the reverse of the data flow's entry: SMTP stops accepting first, then
the dispatcher drains, then the API and Ray go.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import SecretStr
from ray import serve

from actors.auth_checker import AuthCheckerActor
from actors.delivery import DELIVERY_ACTOR, DeliveryActor
from actors.dispatcher import DispatcherActor
from actors.frontend import FrontEndActor
from actors.indexer import IndexerActor
from actors.pipeline_worker import PipelineWorkerActor
from actors.pool_registry import POOL_REGISTRY, PoolRegistryActor
from actors.webhooks import WebhookActor
from cluster.loopback import bind_serve_grpc_to_node_ip
from cluster.plugin_sync import PluginSync
from cluster.pool_scaler import PoolScaler
from cluster.pools import AuthCheckerPool, DeliveryPool, PipelinePool, WorkerPool
from cluster.ray_address import forget_address, record_address
from cluster.ray_runtime import start_ray
from cluster.start_clock import StartClock, remaining, wait_for_healthz
from mairust.cli.admin_token import ensure_admin_token
from mairust.cli.directory import ensure_domain
from mairust.cli.options import opened_stores
from mairust.config import Settings
from mairust.pipeline.dispatcher import dispatcher_identity, owner_prefix
from mairust.pool_sizing import AUTH, DELIVERY, PIPELINE, sizing_rules
from mairust.search.indexing import reindex_all
from mairust.smtp.tls import ensure_self_signed
from serve.api_ingress import build_api_app

_log = logging.getLogger(__name__)

DISPATCHER = "dispatcher"


def frontend_peer_name(leader: str, number: int) -> str:
    """The Ray name of the ``number``-th front-end (2, 3, ...) of ``leader``'s group."""
    return f"{leader}-{number}"


def worker_name(index: int) -> str:
    """The Ray name of the ``index``-th pipeline worker (the dispatcher reaches it by it)."""
    return f"pipeline-worker-{index}"


# Ray's and Serve's own components log at this level (their INFO lines are start-up chatter).
RAY_LOG_LEVEL = "WARNING"


@dataclass(frozen=True, slots=True)
class Endpoints:
    smtp: tuple[str, int]
    submission: tuple[str, int]
    api: tuple[str, int]
    admin_token: str
    # Implicit TLS submission (smtp.submissions_port), when configured.
    submissions: tuple[str, int] | None = None


class EmbeddedCluster:
    """Owns the Ray side of one `mairust up`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Front-end actors by name: one here; one per SMTP node under `mairust cluster up`.
        self._frontends: dict[str, Any] = {}
        self._checker_names: list[str] = []
        # What each front-end listens on, as it reported once it was up.
        self.listening: dict[str, list[tuple[str, str, int]]] = {}
        self._dispatcher: Any = None
        self._workers: list[Any] = []
        self._auth_checkers: list[Any] = []
        self._indexer: Any = None
        self._webhooks: Any = None
        self._deliveries: list[Any] = []
        self._plugins: PluginSync | None = None
        # The pools' sizes and bounds; the registry and the scaler that resizes them.
        self._rules = sizing_rules(settings)
        self._registry: Any = None
        self.pool_scaler: PoolScaler | None = None

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
        clock = StartClock()
        deadline = time.monotonic() + settings.cluster.start_timeout
        side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="start-up")
        try:
            # Migrations and Ray's own processes start at the same time.
            stores_ready = side.submit(self.prepare_stores)
            start_ray(settings)
            # `mairust cluster status` finds this Ray through the data dir.
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            record_address(settings.data_dir, ray.get_runtime_context().gcs_address)
            clock.reached("ray")
            token = stores_ready.result()
            clock.reached("stores")
            # Every component (the API replicas above all) checks the same token.
            settings.api.admin_token = SecretStr(token)
            self._ensure_tls()
            api_ready = side.submit(self._start_api)
            self._create_actors()
            clock.reached("actors created")
            listening = self._wait_for_actors(deadline, clock)
            api_ready.result(timeout=remaining(deadline, "the API on Ray Serve"))
            clock.reached("serve.run")
            # Serve plugins run before the platform says it is ready: a bound plugin that
            # is not deployed yet would answer every hook call with its on_error verdict.
            self._plugins = PluginSync(settings, RAY_LOG_LEVEL)
            self._plugins.start()
            clock.reached("serve plugins")
            api = (settings.api.host, settings.api.port)
            wait_for_healthz(api, deadline)
            clock.reached("API healthy")
            # Nothing that answers a client waits for these: they start once the rest is up,
            # so their processes do not compete with it for the CPU during start-up.
            self._create_background_actors()
            self._start_pool_scaler()
        finally:
            # On failure the caller's stop() ends Ray, which ends a Serve call still waiting.
            side.shutdown(wait=False, cancel_futures=True)
        _log.info("ready in %.1f s (%s)", clock.elapsed(), clock.summary())
        return Endpoints(
            smtp=listening["smtp"],
            submission=listening["submission"],
            api=api,
            admin_token=token,
            submissions=listening.get("submissions"),
        )

    def _ensure_tls(self) -> None:
        """No certificate configured: the self-signed pair of this data dir (made on the
        first start), so STARTTLS is always offered; the actors get its paths."""
        smtp = self._settings.smtp
        if smtp.tls_cert_file is None:
            smtp.tls_cert_file, smtp.tls_key_file = ensure_self_signed(
                self._settings.data_dir / "tls", smtp.hostname
            )

    def _start_api(self) -> None:
        """Serve's controller, proxy and the API replica; returns when the app is RUNNING."""
        settings = self._settings
        # The driver's Serve client logs each step at INFO ("Started Serve", "ready at").
        logging.getLogger("ray.serve").setLevel(RAY_LOG_LEVEL)
        serve.start(
            proxy_location="HeadOnly",
            http_options={"host": settings.api.host, "port": settings.api.port},
            logging_config={"log_level": RAY_LOG_LEVEL},
        )
        serve.run(
            build_api_app(settings, bind_serve_grpc_to_node_ip, log_level=RAY_LOG_LEVEL),
            name="api",
            route_prefix="/",
        )

    def _create_actors(self) -> None:
        """Create the actors `start` waits for, and the auth checkers the front-end calls
        on its first unchecked MAIL, at once (creation does not wait for them to be up)."""
        settings = self._settings
        worker_names = [worker_name(n) for n in range(self._rules[PIPELINE].initial)]
        auth = self._rules.get(AUTH)
        checker_names = [f"auth-checker-{n}" for n in range(auth.initial if auth else 0)]
        # Before its readers: a restarted dispatcher or front-end asks it for the members.
        self._registry = PoolRegistryActor.options(name=POOL_REGISTRY).remote()
        # The ones `start` waits for come first: Ray starts worker processes a few at a time.
        # Peers go by name: a handle as a constructor argument is held by reference, and Ray
        # cannot promise to rebuild such an actor on restart.
        self._checker_names = checker_names
        self._frontends = self._create_frontends(checker_names)
        self._dispatcher = DispatcherActor.options(name=DISPATCHER).remote(settings, worker_names)
        self._workers = [
            PipelineWorkerActor.options(name=name, **self._worker_options(index)).remote(settings)
            for index, name in enumerate(worker_names)
        ]
        self._auth_checkers = [
            AuthCheckerActor.options(name=name).remote(settings) for name in checker_names
        ]

    def _create_frontends(self, checker_names: list[str]) -> dict[str, Any]:
        """The SMTP front-end actors by name: on one machine, one."""
        frontend = FrontEndActor.options(name="smtp-frontend").remote(
            self._settings, DISPATCHER, checker_names
        )
        return {"smtp-frontend": frontend}

    def start_frontend_peers(self, leaders: list[str], timeout: float) -> int:
        """The other front-ends of each leader's group (``smtp.frontends_per_node`` > 1),
        made once the leader listens: they bind the ports it bound (SO_REUSEPORT), and only
        the leader renews certificates, whose files (an ACME stand-in first) exist by then.
        Not in ``listening``, which has one entry per group. How many were started."""
        count = self._settings.smtp.frontends_per_node
        peers: dict[str, Any] = {}
        for leader in leaders:
            settings = self._frontend_settings(leader)
            bound = {name: port for name, _host, port in self.listening[leader]}
            smtp = settings.smtp.model_copy(
                update={
                    "port": bound["smtp"],
                    "submission_port": bound["submission"],
                    "submissions_port": bound.get("submissions", 0),
                }
            )
            settings = settings.model_copy(update={"smtp": smtp})
            for number in range(2, count + 1):
                peers[frontend_peer_name(leader, number)] = FrontEndActor.options(
                    name=frontend_peer_name(leader, number), **self._peer_options(leader)
                ).remote(settings, DISPATCHER, self._checker_names, renews_certificates=False)
        if peers:
            ray.get([peer.listening.remote() for peer in peers.values()], timeout=timeout)
            self._frontends.update(peers)
        return len(peers)

    def _frontend_settings(self, leader: str) -> Settings:
        """The settings the front-end ``leader`` was made with."""
        return self._settings

    def _peer_options(self, leader: str) -> dict[str, Any]:
        """Ray options (placement) of the other front-ends of ``leader``'s group."""
        return {}

    def _worker_options(self, index: int) -> dict[str, Any]:
        """Ray options of the ``index``-th pipeline worker actor beyond its name (placement)."""
        return {}

    def _create_background_actors(self) -> None:
        """The search backlog and retention loops, the webhook loops, the outbound
        delivery loops."""
        self._indexer = IndexerActor.options(name="indexer").remote(self._settings)
        self._webhooks = WebhookActor.options(name="webhooks").remote(self._settings)
        delivery = self._rules.get(DELIVERY)
        self._deliveries = [
            DeliveryActor.options(name=f"{DELIVERY_ACTOR}-{index}").remote(self._settings, index)
            for index in range(delivery.initial if delivery is not None else 0)
        ]

    def _start_pool_scaler(self) -> None:
        """The pools made at start-up, handed to the scaler that owns them from now on."""
        settings = self._settings
        pools: list[WorkerPool] = [
            PipelinePool(settings, self._rules[PIPELINE], self._dispatcher),
        ]
        if AUTH in self._rules:
            pools.append(
                AuthCheckerPool(settings, self._rules[AUTH], lambda: list(self._frontends.values()))
            )
        if DELIVERY in self._rules:
            pools.append(DeliveryPool(settings, self._rules[DELIVERY]))
        members = {
            PIPELINE: self._workers,
            AUTH: self._auth_checkers,
            DELIVERY: self._deliveries,
        }
        for pool in pools:
            pool.adopt({f"{pool.prefix}{n}": handle for n, handle in enumerate(members[pool.name])})
        self.pool_scaler = PoolScaler(settings, pools, self._registry, spread=True)
        self.pool_scaler.start()

    def _pool_members(self, pool_name: str) -> list[Any]:
        """A pool's members now (the scaler's, once it runs)."""
        if self.pool_scaler is not None:
            for pool in self.pool_scaler.pools:
                if pool.name == pool_name:
                    return list(pool.members.values())
        return list(self._deliveries) if pool_name == DELIVERY else []

    def _wait_for_actors(self, deadline: float, clock: StartClock) -> dict[str, tuple[str, int]]:
        """Block until every SMTP front-end listens and the dispatcher and one pipeline
        worker answer; the listeners of the first front-end."""
        names = list(self._frontends)
        listening_refs = [self._frontends[name].listening.remote() for name in names]
        dispatcher_ref = self._dispatcher.__ray_ready__.remote()
        worker_refs = [worker.__ray_ready__.remote() for worker in self._workers]
        answers = ray.get(listening_refs, timeout=remaining(deadline, "the SMTP front-end"))
        self.listening.update(zip(names, answers, strict=True))
        listening = {name: (host, port) for name, host, port in answers[0]}
        self.start_frontend_peers(names, remaining(deadline, "the SMTP front-end group"))
        clock.reached("SMTP listening")
        ray.get(dispatcher_ref, timeout=remaining(deadline, "the dispatcher"))
        clock.reached("dispatcher")
        ready, _ = ray.wait(
            worker_refs, num_returns=1, timeout=remaining(deadline, "a pipeline worker")
        )
        if not ready:
            raise TimeoutError("no pipeline worker answered in time")
        ray.get(ready[0])  # a worker whose start failed raises here
        clock.reached("pipeline worker")
        return listening

    def stop(self) -> None:
        """Graceful stop; safe to call after a partial start."""
        # The scaler first: nothing grows or moves while the rest stops.
        if self.pool_scaler is not None:
            self.pool_scaler.stop()
        # SMTP first (no new mail), then the dispatcher (batches in flight finish).
        for step, actor in (
            *(("SMTP front-end", actor) for actor in self._frontends.values()),
            ("dispatcher", self._dispatcher),
            ("indexer", self._indexer),
            ("webhook loops", self._webhooks),
            *(("outbound delivery loop", actor) for actor in self._pool_members(DELIVERY)),
        ):
            if actor is None:
                continue
            try:
                ray.get(actor.stop.remote(), timeout=60)
            except (ray.exceptions.RayError, TimeoutError) as exc:
                _log.warning("stopping the %s: %s", step, exc)
        if self._plugins is not None:
            self._plugins.stop()
        forget_address(self._settings.data_dir)
        if ray.is_initialized():
            try:
                self._stop_serve()
            except Exception as exc:  # Serve never came up, or is already gone
                _log.debug("stopping the API app: %r", exc)
            finally:
                ray.shutdown()

    def _stop_serve(self) -> None:
        # Deleting the app drains its replica; Ray's shutdown then ends the controller and
        # proxy (serve.shutdown() would race its own controller's graceful stop and make the
        # raylet print a failed-task line on every stop).
        serve.delete("api")
