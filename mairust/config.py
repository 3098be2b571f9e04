"""Typed configuration, loaded once at the entry point and passed down.

Sources, strongest first: command-line overrides, ``MAIRUST_*`` environment
variables (``MAIRUST_SMTP__PORT=2525``; ``MAIRUST_ADMIN_TOKEN`` for the admin
token), the TOML file given with ``--config``, then the defaults below.
``docs/mairust.example.toml`` documents every key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import platform
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MIB = 1024 * 1024


class _Section(BaseModel):
    """A config section: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Section):
    """The SMTP front-end: where it listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(2525, ge=0, le=65535)
    submission_port: int = Field(2587, ge=0, le=65535)
    # SMTP front-end processes per node. More than one share the listening ports through
    # SO_REUSEPORT (the kernel spreads new connections over them), so SMTP uses more than
    # one core; they need fixed ports (not 0). Per-IP limits count in each process.
    frontends_per_node: int = Field(1, ge=1, le=32)
    hostname: str = Field(default_factory=lambda: platform.node() or "localhost")
    max_message_size: int = Field(25 * MIB, gt=0)
    max_recipients: int = Field(100, ge=1)
    # How long RCPT remembers a local mailbox it found (0: ask the store every time).
    recipient_cache_seconds: float = Field(10.0, ge=0)
    # AUTH without TLS, for loopback clients only (anyone else must STARTTLS first).
    allow_plaintext_auth: bool = True
    # PEM certificate (chain) and key for STARTTLS and implicit TLS; both or neither. None:
    # no TLS (`mairust up` then makes a self-signed pair in <data_dir>/tls once).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # At most how often a new TLS handshake looks whether the two files changed (a changed
    # pair is served from the next connection on, without a restart).
    tls_reload_seconds: float = Field(5.0, ge=0)
    # Implicit TLS submission (RFC 8314, "submissions", usually 465); 0: no such listener.
    submissions_port: int = Field(0, ge=0, le=65535)
    # -- limits on what a client may send (docs/security: limits) --
    # Longest command line in octets with its CRLF (RFC 5321 §4.5.3.1.4: 512); ESMTP
    # parameters we advertise add their own allowance (SIZE, SMTPUTF8, BODY, DSN).
    max_command_line: int = Field(512, ge=512, le=65536)
    # Longest text line in DATA in octets with its CRLF (RFC 5321 §4.5.3.1.6: 1000).
    max_text_line: int = Field(1000, ge=1000, le=1_048_576)
    # Header fields of the message (and of each MIME part), and their bytes in all.
    max_header_count: int = Field(1000, ge=1)
    max_header_bytes: int = Field(256 * 1024, ge=1024)
    # Bytes of one header field, its folded continuation lines included.
    max_header_field_bytes: int = Field(64 * 1024, ge=998)
    # MIME: how deep multiparts and message/rfc822 parts nest, and how many parts in all.
    max_mime_depth: int = Field(32, ge=1)
    max_mime_parts: int = Field(1000, ge=1)
    # AUTH failures a connection may make: the last of them waits auth_failure_delay
    # seconds, is answered 421 4.7.0 instead of 535, and the connection is closed.
    max_auth_failures: int = Field(3, ge=1)
    auth_failure_delay: float = Field(5.0, ge=0)
    # AUTH failures one client IP may make across connections in auth_failure_window
    # seconds before each further AUTH gets the delay and 421 4.7.0 unchecked. Counted in
    # the front-end process (one per node): a client spread over nodes gets one allowance
    # per node.
    max_auth_failures_per_ip: int = Field(10, ge=1)
    auth_failure_window: float = Field(600.0, gt=0)
    # -- behind a load balancer (docs/scale-out/proxy.md) --
    # Networks of the proxies whose connections start with a PROXY protocol header (v2, or
    # v1 text) naming the real client; from them a header is required. Empty: off.
    proxy_protocol_from: list[str] = Field(default_factory=list)
    # Seconds a listed proxy has to send its whole header before the connection is closed.
    proxy_protocol_timeout: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _tls_pair(self) -> SmtpSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("smtp.tls_cert_file and smtp.tls_key_file go together")
        # Absolute now: the actors that open them may run in another directory.
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            self.tls_cert_file = self.tls_cert_file.expanduser().absolute()
            self.tls_key_file = self.tls_key_file.expanduser().absolute()
        return self

    @field_validator("proxy_protocol_from")
    @classmethod
    def _proxy_networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return networks


class ApiSettings(_Section):
    """The REST API (served as a Ray Serve ingress)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    admin_token: SecretStr | None = None
    # POST /send: the decoded bodies and attachments of one message together, in bytes.
    max_send_size: int = Field(10 * MIB, gt=0)
    # Requests per second each token may make, sustained, and the burst it may spend at
    # once (a token bucket per token, per API replica: N replicas allow N times this).
    # 0 turns the limit off.
    rate_limit_per_second: float = Field(50.0, ge=0)
    rate_limit_burst: int = Field(200, ge=1)
    # Password log-ins (POST /auth/token) per client address per minute, per replica;
    # 0 turns the limit off.
    login_attempts_per_minute: int = Field(10, ge=0)
    # How long an API replica keeps a token it found without reading the store again (a
    # request then costs no token lookup). A token revoked through another replica still
    # works here for at most this long; 0: every request reads the store.
    token_cache_seconds: float = Field(2.0, ge=0, le=60)
    # Threads each API app runs its blocking route code on (the stores, DNS checks): what
    # may run at once per replica; a request beyond it waits for a free thread.
    worker_threads: int = Field(16, ge=1, le=256)
    # The admin UI's production build, served at `/` (its index.html and assets); None:
    # `web/dist` of the source checkout the package runs from (`make web` builds it).
    web_dir: Path | None = None


class MailboxSettings(_Section):
    """Mailboxes: what each may hold, and how long deleted and junk mail stays."""

    # The quota of a mailbox without its own, in bytes (0: unlimited). RCPT answers
    # 452 4.2.2 to a mailbox whose entries take this much or more.
    default_quota_bytes: int = Field(0, ge=0)
    # Days an entry stays in Trash (counted from when it was moved there); 0: never purged.
    trash_days: int = Field(30, ge=0)
    # Days an entry stays in Junk (from when it arrived or was moved there); 0: never purged.
    junk_days: int = Field(30, ge=0)
    # How often `mairust up` purges what Trash and Junk hold past those days (the indexer
    # actor's retention loop); 0: never by itself (`mairust mailbox expire` still does).
    expire_interval_seconds: float = Field(3600.0, ge=0)


class StorageSettings(_Section):
    """One URL per storage role; empty means the embedded default under ``data_dir``."""

    metadata: str = ""
    blobs: str = ""
    search: str = ""
    # S3 credentials; empty: the standard AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, roles).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr | None = None


class QueueSettings(_Section):
    """Leasing of queue rows from the metadata store."""

    lease_seconds: float = Field(60.0, gt=0)
    batch_size: int = Field(64, ge=1)
    poll_interval: float = Field(1.0, gt=0)
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    max_attempts: int = Field(20, ge=1)
    # /healthz answers 503 when due rows wait longer than this and no lease loop leased in it.
    stall_seconds: float = Field(60.0, gt=0)


class SpoolSettings(_Section):
    """Group commit of accepted messages into the metadata store."""

    max_batch: int = Field(128, ge=1)


class ClusterSettings(_Section):
    """How ``mairust up`` sizes the Ray side."""

    ray_address: str = ""
    pipeline_workers: int = Field(2, ge=1)
    # Scheduling niceness of the pipeline workers' processes (0-19): on a busy node the SMTP
    # front-end, whose replies clients wait for, gets the CPU first; delivery catches up.
    pipeline_worker_nice: int = Field(5, ge=0, le=19)
    max_batches_in_flight: int = Field(2, ge=1)
    object_store_memory_mb: int = Field(256, ge=78)
    # How often the indexer retries entries left in the search backlog by a search outage.
    search_backlog_interval: float = Field(5.0, gt=0)
    # How long `mairust up` waits for SMTP, the dispatcher, a pipeline worker and the API
    # to answer before it gives up (a first start on a busy machine takes the longest).
    start_timeout: float = Field(120.0, gt=0)
    # Pools that grow and shrink with their load (docs/scale-out/pools.md). Each pool
    # starts at its size above (pipeline_workers, [auth] checkers, [outbound] workers);
    # a bound left unset is that size, so a config without bounds keeps fixed pools.
    pipeline_workers_min: int | None = Field(None, ge=1)
    pipeline_workers_max: int | None = Field(None, ge=1)
    auth_checkers_min: int | None = Field(None, ge=1)
    auth_checkers_max: int | None = Field(None, ge=1)
    delivery_workers_min: int | None = Field(None, ge=0)
    delivery_workers_max: int | None = Field(None, ge=0)
    # The load one member is meant to carry: queue rows ready or in flight per pipeline
    # worker, auth requests waiting or in flight per checker, outbound rows per delivery
    # worker. More load than the members carry grows the pool.
    pipeline_rows_per_worker: int = Field(200, ge=1)
    auth_requests_per_checker: int = Field(50, ge=1)
    delivery_rows_per_worker: int = Field(200, ge=1)
    # How often the scaler looks at the pools' load, and how long a pool keeps its size
    # after a change (no flapping between two sizes).
    pool_scale_interval: float = Field(2.0, gt=0)
    pool_cooldown_seconds: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _bounds_in_order(self) -> ClusterSettings:
        for pool in ("pipeline_workers", "auth_checkers", "delivery_workers"):
            low, high = getattr(self, f"{pool}_min"), getattr(self, f"{pool}_max")
            if low is not None and high is not None and low > high:
                raise ValueError(f"cluster.{pool}_min ({low}) is above {pool}_max ({high})")
        return self


SpfMode = Literal["enforce", "record"]
DmarcMode = Literal["enforce", "quarantine", "record"]


class DomainAuthPolicy(_Section):
    """Overrides for mail to one local domain; unset keys fall back to ``[auth]``."""

    spf: SpfMode | None = None
    dmarc: DmarcMode | None = None


class AuthSettings(_Section):
    """SPF, DKIM, DMARC and ARC checks on inbound mail, and what failing them means."""

    enabled: bool = True
    # The authserv-id of our Authentication-Results headers; empty: smtp.hostname.
    authserv_id: str = ""
    # SPF fail: "enforce" refuses at RCPT (550 5.7.23); "record" only stamps the result.
    spf: SpfMode = "record"
    # DMARC fail under p=reject: "enforce" refuses (550 5.7.1), "quarantine" delivers to
    # Junk with a tag, "record" only stamps. p=quarantine is always delivered to Junk
    # unless the mode is "record".
    dmarc: DmarcMode = "enforce"
    # DNS failures while checking (temperror): 451 4.4.3 so the sender retries.
    tempfail_on_dns_error: bool = True
    min_rsa_bits: int = Field(1024, ge=512)
    # Clients whose mail is not checked at all (like Postfix's mynetworks).
    trusted_networks: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # Forwarders whose mail is checked and stamped, but never refused or quarantined for it.
    trusted_forwarders: list[str] = Field(default_factory=list)
    domains: dict[str, DomainAuthPolicy] = Field(default_factory=dict)
    # Auth checker actors in the cluster.
    checkers: int = Field(2, ge=1)


class DnsSettings(_Section):
    """The resolver the checks use (SPF, DKIM keys, DMARC records)."""

    # Empty: the system's resolvers (/etc/resolv.conf).
    nameservers: list[str] = Field(default_factory=list)
    port: int = Field(53, ge=1, le=65535)
    timeout: float = Field(2.0, gt=0)
    cache_size: int = Field(10_000, ge=0)


SECRETS_KEY_BYTES = 32


def decode_secrets_key(value: str) -> bytes:
    """The 32 bytes of a base64 master key; ValueError for anything else."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a secrets key must be base64 (openssl rand -base64 32)") from error
    if len(key) != SECRETS_KEY_BYTES:
        raise ValueError(f"a secrets key must be {SECRETS_KEY_BYTES} bytes, got {len(key)}")
    return key


class SecretsSettings(_Section):
    """The secret store's master key (webhook signing secrets, later DKIM and plugin keys)."""

    # base64 of 32 random bytes; unset: generated once into <data_dir>/secrets_key, which
    # only an embedded (SQLite) metadata store may use: nodes sharing PostgreSQL need one key.
    key: SecretStr | None = None
    # Keys that still decrypt (after a rotation, until `mairust secrets rotate-key` ran).
    previous_keys: list[SecretStr] = Field(default_factory=list)

    @field_validator("key")
    @classmethod
    def _key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_secrets_key(value.get_secret_value())
        return value

    @field_validator("previous_keys")
    @classmethod
    def _previous_keys_are_32_bytes(cls, values: list[SecretStr]) -> list[SecretStr]:
        for value in values:
            decode_secrets_key(value.get_secret_value())
        return values


class WebhookSettings(_Section):
    """Outgoing event webhooks: the safe HTTP client's limits and the delivery retries."""

    # Networks the outgoing HTTP client may connect to although they are not public
    # (loopback, private, link-local, CGNAT, metadata are refused otherwise), e.g.
    # ["127.0.0.1/32"] for a receiver on this machine. Empty: public addresses only.
    allow_networks: list[str] = Field(default_factory=list)
    # Endpoint URLs may use plain http (https only otherwise): for a receiver on a
    # network the operator trusts, never for the public internet.
    allow_http: bool = False
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    # Whole request, redirects and response included.
    total_timeout: float = Field(30.0, gt=0)
    max_redirects: int = Field(3, ge=0, le=10)
    max_response_bytes: int = Field(64 * 1024, ge=0)
    # Attempts per delivery before it is given up (kept, listed as failed).
    max_attempts: int = Field(10, ge=1)
    # Exponential backoff between attempts, with jitter: base * 2^(attempt-1), capped.
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(6 * 3600.0, gt=0)
    # A delivery loop holds what it leased this long (longer than total_timeout).
    lease_seconds: float = Field(120.0, gt=0)
    batch_size: int = Field(16, ge=1)
    # Requests in flight at once per delivery loop.
    concurrency: int = Field(8, ge=1)
    poll_interval: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> WebhookSettings:
        for network in self.allow_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        if self.lease_seconds <= self.total_timeout:
            raise ValueError("webhooks.lease_seconds must exceed webhooks.total_timeout")
        return self


class HooksSettings(_Section):
    """Plugins at hook points: how long a transaction waits for them, how they are reached."""

    # The one deadline of a synchronous hook point: its plugins run in parallel under it
    # (a plugin's own timeout in its manifest may be shorter).
    deadline_seconds: float = Field(5.0, gt=0, le=120)
    # How long each front-end keeps the bindings it read: a change takes this long to apply.
    bindings_cache_seconds: float = Field(5.0, ge=0)
    # Networks http plugins may be on although not public (loopback, private, ...), e.g.
    # ["127.0.0.1/32"] for a plugin service on this machine. Empty: public addresses only.
    allow_networks: list[str] = Field(default_factory=list)
    # Days a plugin call stays in its log (the running totals stay whole); purged by the
    # retention loop every mailbox.expire_interval_seconds. 0: kept for ever.
    call_log_days: float = Field(30.0, ge=0)
    # post_receive bindings run as durable jobs after the 250: how often an idle job loop
    # looks for due jobs, how often a failing call is tried (backoff from the base, doubled
    # each time, capped), how long a leased job is held before another loop may take it,
    # and how long a plugin that answered "pending" has to call back.
    job_poll_interval: float = Field(1.0, gt=0)
    job_max_attempts: int = Field(5, ge=1)
    job_retry_base_seconds: float = Field(10.0, gt=0)
    job_retry_max_seconds: float = Field(3600.0, gt=0)
    job_lease_seconds: float = Field(60.0, gt=0)
    job_batch_size: int = Field(16, ge=1, le=1000)
    callback_token_seconds: float = Field(3600.0, gt=0)
    # The API's address as plugins reach it, for the callback URL; empty: the API's own
    # host and port (http://api.host:api.port).
    callback_base_url: str = ""


_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ED25519_PUBLIC_KEY_BYTES = 32


def decode_public_key(value: str) -> bytes:
    """The 32 raw bytes of a base64 ed25519 public key; ValueError for anything else."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a trusted key is the base64 of a raw ed25519 public key") from error
    if len(key) != ED25519_PUBLIC_KEY_BYTES:
        raise ValueError(f"an ed25519 public key is 32 bytes, got {len(key)}")
    return key


class PluginsSettings(_Section):
    """Plugin packages: whose signatures are trusted, and the catalog installs come from."""

    # Key id -> base64 raw ed25519 public key (what `mairust plugin keygen` prints). A
    # package installs only when its detached signature (FILE.sig) names one of these ids
    # and verifies with that key.
    trusted_keys: dict[str, str] = Field(default_factory=dict)
    # Install package FILES that carry no signature (a local build). Never applies to the
    # catalog, and a signature that is present must still verify.
    allow_unsigned_files: bool = False
    # Where `mairust plugin search` and install-by-name look: a directory or an http(s)
    # URL holding index.json and the packages it lists. Empty: no catalog.
    catalog: str = ""
    # Networks the catalog may be on although not public (loopback, private, ...), e.g.
    # ["127.0.0.1/32"]. Empty: public addresses only.
    allow_networks: list[str] = Field(default_factory=list)
    # Downloading one package, redirects included.
    download_timeout: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> PluginsSettings:
        for key_id, key in self.trusted_keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"plugins.trusted_keys: {key_id!r} is not a key id")
            try:
                decode_public_key(key)
            except ValueError as error:
                raise ValueError(f"plugins.trusted_keys.{key_id}: {error}") from None
        for network in self.allow_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return self


class SourcePool(_Section):
    """Local addresses outbound sessions may come from (each session takes the next), and
    what the pool may carry: sessions open at once and messages a minute (0: no limit)."""

    addresses: list[str] = Field(default_factory=list)
    connections: int = Field(0, ge=0)
    rate_per_minute: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _addresses_are_ips(self) -> SourcePool:
        for address in self.addresses:
            ipaddress.ip_address(address)  # ValueError names the bad one
        return self


class DestinationLimits(_Section):
    """One destination's own shaping (a domain, or ``relay:host:port``); unset values
    fall back to the ``[outbound]`` defaults."""

    connections: int | None = Field(None, ge=1)
    messages_per_connection: int | None = Field(None, ge=1)
    rate_per_minute: float | None = Field(None, ge=0)
    pool: str | None = None


class OutboundSettings(_Section):
    """Outbound delivery: the queue's delivery loop, its sessions, and the retry schedule."""

    # Delivery loops (actors) in the cluster; 0 keeps outbound mail queued, undelivered.
    workers: int = Field(1, ge=0)
    # The port an MX is connected to (25; tests point it at loopback sinks).
    port: int = Field(25, ge=1, le=65535)
    # What we say in EHLO; empty: smtp.hostname.
    helo_name: str = ""
    # Rows leased a round, and how long a lease lasts before another loop may take them.
    batch_size: int = Field(200, ge=1)
    lease_seconds: float = Field(300.0, gt=0)
    poll_interval: float = Field(1.0, gt=0)
    # Sessions open at once, in all and to one destination; messages sent over one
    # session before it is closed (1: no connection reuse).
    max_connections: int = Field(64, ge=1)
    connections_per_destination: int = Field(4, ge=1)
    messages_per_connection: int = Field(100, ge=1)
    # How long a session stays open, idle, for the next batch to its destination (0: closed
    # after each batch); it still carries at most messages_per_connection in its life.
    idle_session_seconds: float = Field(5.0, ge=0)
    connect_timeout: float = Field(30.0, gt=0)
    command_timeout: float = Field(300.0, gt=0)
    # STARTTLS towards MXs: off, opportunistic (when offered), required (never in clear).
    tls: Literal["off", "opportunistic", "required"] = "opportunistic"
    # The retry schedule (RFC 5321 section 4.5.4.1): the first retry after
    # retry_initial_seconds, each next one retry_factor times later (at most
    # retry_max_seconds), +/- retry_jitter of it; after expire_seconds (5 days) a bounce.
    retry_initial_seconds: float = Field(300.0, gt=0)
    retry_factor: float = Field(2.0, ge=1)
    retry_max_seconds: float = Field(4 * 3600.0, gt=0)
    retry_jitter: float = Field(0.2, ge=0, lt=1)
    expire_seconds: float = Field(5 * 86400.0, gt=0)
    # Messages a minute to one destination (0: no limit); what is over waits, unattempted.
    rate_per_minute: float = Field(0.0, ge=0)
    # Source-address pools by name, the one sessions use by default ("": the OS's choice),
    # and each destination's own limits and pool.
    pools: dict[str, SourcePool] = Field(default_factory=dict)
    default_pool: str = ""
    destinations: dict[str, DestinationLimits] = Field(default_factory=dict)
    # Delay DSNs (RFC 3464 "Action: delayed"; Postfix's delay_warning_time): a recipient
    # still deferred this long after it was queued gets ONE notice to the reverse path
    # (never to <>) saying it is still being retried, and until when. 0: never. 4 hours,
    # as Sendmail's queuewarn (Exim warns after 24 h): a sender then hears about a stuck
    # message the same working day, and the first few retries (5, 10, 20, 40 minutes...)
    # have had their chance. Postfix's default is 0 (off).
    delay_warning_seconds: float = Field(4 * 3600.0, ge=0)
    # Whether a recipient given without NOTIFY is warned too (RFC 3461 section 4.1 leaves
    # it to us; Postfix warns when delay_warning_time is on). NOTIFY=DELAY is always
    # warned, NOTIFY without DELAY (or NEVER) never.
    delay_warning_without_notify: bool = True

    @model_validator(mode="after")
    def _pools_named_exist(self) -> OutboundSettings:
        named = {self.default_pool} | {d.pool for d in self.destinations.values() if d.pool}
        missing = sorted(name for name in named if name and name not in self.pools)
        if missing:
            raise ValueError(f"outbound pools not defined: {', '.join(missing)}")
        return self


class DkimSettings(_Section):
    """Outbound DKIM signing; the keys themselves: `mairust dkim keygen`, the API."""

    # How long a key replaced by a rotation stays published (and kept), so mail signed
    # before the rotation, still queued or in transit, verifies.
    rotation_grace_days: float = Field(7.0, gt=0)
    # How long a process keeps a domain's signer before it reads the keys again (a
    # rotation made elsewhere shows after this; the retired key verifies meanwhile).
    signer_cache_seconds: float = Field(60.0, ge=0)
    # x= on signatures: they expire this many days after signing (0: no x=).
    signature_expire_days: float = Field(0.0, ge=0)


class RelayLogin(_Section):
    """How we log in to one relay host (``[relay.auth."host:port"]``): the user name here,
    the password only in the secret store (``mairust secrets relay-password`` seals it and
    prints the id that goes in ``password_secret``)."""

    username: str = Field(min_length=1)
    password_secret: str = Field(min_length=1)


class RelaySettings(_Section):
    """Relay hosts (the targets of relay routing rules) and how we talk to them."""

    # Relay hosts that want SMTP AUTH, keyed by the rule's target as the rule stores it
    # (lower case, "host:port"); AUTH only after STARTTLS with a verified certificate.
    auth: dict[str, RelayLogin] = Field(default_factory=dict)


class UnsubscribeSettings(_Section):
    """One-click unsubscribe links (RFC 8058) the send API adds when asked."""

    # The API's address as recipients' mail providers reach it, e.g.
    # "https://mail.example.com" (the link is BASE/api/v1/unsubscribe/TOKEN; RFC 8058 wants
    # https). Empty: the send API refuses the `unsubscribe` option.
    base_url: str = ""
    # How long a link works after the message is sent (mail is read late; CAN-SPAM asks
    # for at least 30 days).
    token_days: float = Field(90.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> UnsubscribeSettings:
        if self.base_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.base_url):
            raise ValueError("unsubscribe.base_url is an http(s) URL without query or fragment")
        return self


class OutboundTlsSettings(_Section):
    """Per-destination TLS of outbound delivery: MTA-STS (RFC 8461) and require_tls."""

    # Domains whose mail goes only over STARTTLS with a certificate valid for the MX
    # host name (never in clear; a failure defers).
    require_tls_domains: list[str] = Field(default_factory=list)
    # Look up and apply recipient domains' MTA-STS policies.
    mta_sts: bool = True
    # CA bundle (PEM) that MX certificates, policy hosts and the relay hosts we log in to
    # (relay auth, other regions' relay endpoints) are checked against; empty: the system's CAs.
    ca_file: str = ""
    # Policies kept per process (least recently used dropped first).
    policy_cache_size: int = Field(10_000, ge=1)
    # The whole HTTPS fetch of one policy (RFC 8461 section 3.3 suggests under a minute).
    policy_fetch_timeout: float = Field(30.0, gt=0)
    # Networks a policy host may be on although not public (loopback, private), e.g.
    # ["127.0.0.0/8"] for tests. Empty: public addresses only.
    policy_allow_networks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> OutboundTlsSettings:
        for network in self.policy_allow_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return self


class DmarcReportSettings(_Section):
    """The DMARC aggregate reports we send (RFC 7489 §7.2) to the domains whose records
    ask for them (``rua=mailto:``), from the auth results of the mail we received."""

    enabled: bool = False
    # Who we are in the reports (<org_name>), usually our host's domain.
    org_name: str = ""
    # The From and envelope sender of the reports; receivers write to it about them.
    sender: str = ""
    # The period one report covers, and how often reports go out.
    interval_seconds: float = Field(86400.0, ge=3600)
    # <extra_contact_info> (a URL or words), optional.
    contact: str = ""

    @model_validator(mode="after")
    def _sender_when_enabled(self) -> DmarcReportSettings:
        if self.enabled and ("@" not in self.sender or not self.org_name):
            raise ValueError("[dmarc_reports] enabled needs sender (an address) and org_name")
        return self


class ForwardingSettings(_Section):
    """Routing rules that forward off the platform: SRS and ARC (mairust.outbound.forwarding)."""

    # Off: such forwards are refused with 451 4.3.5 at RCPT, as before forwarding existed.
    enabled: bool = True
    # The domain SRS addresses are made at (its MX must be us, its SPF our outbound
    # addresses); empty: the forwarding address's own domain.
    srs_domain: str = ""
    # A bounce to an SRS address older than this many days is refused (550 5.1.1).
    srs_max_age_days: int = Field(21, ge=1, le=1000)
    # How long a process keeps a domain's ARC sealing key before reading it again.
    key_cache_seconds: float = Field(60.0, ge=0)


class AcmeSettings(_Section):
    """Certificates for the SMTP listeners from an ACME CA (RFC 8555, HTTP-01 challenges):
    written to smtp.tls_cert_file / tls_key_file, which the listeners reload on change."""

    enabled: bool = False
    directory_url: str = "https://acme-v02.api.letsencrypt.org/directory"
    # CA bundle (PEM) the directory's HTTPS certificate is checked against; empty: the
    # system's CAs.
    ca_file: str = ""
    # The account's contact (optional; a CA may write about expiring certificates).
    email: str = ""
    # The names the certificate is for (the first is its subject); each must resolve to
    # where http_address:http_port is reachable as port 80 from the CA.
    domains: list[str] = Field(default_factory=list)
    # The HTTP-01 challenge listener, open only while an order is validated.
    http_address: str = "127.0.0.1"
    http_port: int = Field(80, ge=1, le=65535)
    # Renew when fewer than this many days of the certificate remain.
    renew_before_days: float = Field(30.0, gt=0)
    # How often the renewal loop looks at the certificate.
    check_interval_seconds: float = Field(3600.0, gt=0)
    # After a failed order: the first wait before the next, doubling up to the second.
    retry_first_seconds: float = Field(60.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    # The account's private key (made on first use, 0600); None: <data_dir>/acme/account-key.pem.
    account_key_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> AcmeSettings:
        if self.enabled and not self.domains:
            raise ValueError("[acme] enabled needs domains")
        if self.email and "@" not in self.email:
            raise ValueError("acme.email is an address")
        if not re.fullmatch(r"https?://\S+", self.directory_url):
            raise ValueError("acme.directory_url is an http(s) URL")
        return self


class TlsReportSettings(_Section):
    """The TLS reports (RFC 8460, TLS-RPT) we send each day to the recipient domains whose
    ``_smtp._tls`` record asks for them, from our outbound TLS sessions and failures."""

    enabled: bool = False
    # Who we are in the reports (organization-name, TLS-Report-Submitter): our host's
    # domain, usually.
    org_name: str = ""
    # The From and envelope sender of the reports that go by mail.
    sender: str = ""
    # contact-info (an address or a URL); empty: the sender.
    contact: str = ""
    # A day's reports (UTC) go out from this hour of the next day on.
    send_hour: int = Field(1, ge=0, le=23)
    # How often a delivery loop writes its counts to the metadata store.
    flush_seconds: float = Field(10.0, gt=0)
    # Days of counts kept (reports go out the day after).
    keep_days: int = Field(7, ge=2)
    # One https: report upload, in seconds in all.
    post_timeout: float = Field(30.0, gt=0)
    # Networks an https: report host may be on although not public; empty: public only.
    allow_networks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> TlsReportSettings:
        if self.enabled and ("@" not in self.sender or not self.org_name):
            raise ValueError("[tls_reports] enabled needs sender (an address) and org_name")
        for network in self.allow_networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return self


class DiskSettings(_Section):
    """The free-space floor under the data and spool directories: below it new mail is
    refused with 452 4.3.1 (mail already accepted is untouched)."""

    # Refuse new mail when fewer bytes than this are free (0: no byte floor).
    min_free_bytes: int = Field(64 * 1024 * 1024, ge=0)
    # ... or when less than this percentage of the filesystem is free (0: no percentage floor).
    min_free_percent: float = Field(1.0, ge=0, le=100)
    # statvfs is read at most this often; answers in between come from the last reading.
    check_interval_ms: int = Field(1000, ge=0)
    # More directories to watch (e.g. a spool on its own filesystem); the data directory
    # and local blob / SQLite directories are always watched.
    extra_paths: list[Path] = Field(default_factory=list)


class AdmissionSettings(_Section):
    """Who may hold a connection at the SMTP listeners, for how long, and how fast a client
    or tenant may send (mairust.smtp.admission). Trusted networks ([auth]) are exempt from
    the per-IP limits and the greeting pause, not from the total nor the tenant rate."""

    # Open connections over all listeners; beyond: 421 4.7.0 and close, before the greeting.
    max_connections: int = Field(1000, ge=1)
    # Open connections from one client IP address (untrusted clients).
    max_connections_per_ip: int = Field(20, ge=1)
    # Idle time allowed per command (RFC 5321 §4.5.3.2.7: 5 minutes); then 421 4.4.2.
    command_timeout_seconds: float = Field(300.0, gt=0)
    # A whole session's lifetime, however busy (slowloris); then 421 4.4.2.
    session_timeout_seconds: float = Field(1800.0, gt=0)
    # From 354 to the end-of-data dot (RFC 5321 §4.5.3.2.5/6: 3 + 10 minutes); then 421 4.4.2
    # and nothing of the unfinished message is kept.
    data_timeout_seconds: float = Field(600.0, gt=0)
    # Messages (MAIL commands) per minute from one client IP (untrusted), and the burst
    # allowed above that rate; beyond: 450 4.7.1 at MAIL. 0: no limit.
    messages_per_minute_per_ip: float = Field(300.0, ge=0)
    message_burst_per_ip: int = Field(60, ge=1)
    # Messages per minute from the authenticated users of one tenant, and the burst.
    messages_per_minute_per_tenant: float = Field(1200.0, ge=0)
    message_burst_per_tenant: int = Field(200, ge=1)
    # The pause before the greeting for untrusted clients; one that talks in it is an early
    # talker (554 5.5.1, closed). 0: no pause, no test.
    greet_pause_seconds: float = Field(0.3, ge=0, le=30)


class RegionsSettings(_Section):
    """Which region this is (mairust.regions): ``file`` names the regions TOML every region
    reads (empty: a single region, every tenant homed here); ``local`` names this region
    (empty: the file's ``local``, else the MAIRUST_REGION environment variable)."""

    file: str = ""
    local: str = ""


class Settings(BaseSettings):
    """Everything MaiRust reads from configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MAIRUST_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path(".mairust")
    domains: list[str] = Field(default_factory=list)
    log_level: str = "WARNING"
    # "text": one readable line a record; "json": one JSON object a line, with the message
    # id and trace id of the message it concerns (mairust.log_format).
    log_format: Literal["text", "json"] = "text"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    spool: SpoolSettings = Field(default_factory=SpoolSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    hooks: HooksSettings = Field(default_factory=HooksSettings)
    mailbox: MailboxSettings = Field(default_factory=MailboxSettings)
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    dkim: DkimSettings = Field(default_factory=DkimSettings)
    relay: RelaySettings = Field(default_factory=RelaySettings)
    unsubscribe: UnsubscribeSettings = Field(default_factory=UnsubscribeSettings)
    outbound_tls: OutboundTlsSettings = Field(default_factory=OutboundTlsSettings)
    dmarc_reports: DmarcReportSettings = Field(default_factory=DmarcReportSettings)
    forwarding: ForwardingSettings = Field(default_factory=ForwardingSettings)
    acme: AcmeSettings = Field(default_factory=AcmeSettings)
    tls_reports: TlsReportSettings = Field(default_factory=TlsReportSettings)
    disk: DiskSettings = Field(default_factory=DiskSettings)
    admission: AdmissionSettings = Field(default_factory=AdmissionSettings)
    regions: RegionsSettings = Field(default_factory=RegionsSettings)

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        # Ray workers run with another working directory: every path must be absolute.
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.storage.metadata:
            self.storage.metadata = f"sqlite:///{self.data_dir / 'metadata.db'}"
        if not self.storage.blobs:
            self.storage.blobs = f"file://{self.data_dir / 'blobs'}"
        if not self.storage.search:
            self.storage.search = f"fts5://{self.data_dir / 'search.db'}"
        if self.acme.enabled and self.smtp.tls_cert_file is None:
            # ACME writes the files the listeners watch: they must be named.
            raise ValueError("[acme] enabled needs smtp.tls_cert_file and smtp.tls_key_file")
        if self.acme.account_key_file is None:
            self.acme.account_key_file = self.data_dir / "acme" / "account-key.pem"
        self.acme.account_key_file = self.acme.account_key_file.expanduser().absolute()
        return self


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config_file``, the environment and ``overrides``.

    ``overrides`` are the command line's values (nested as dicts); ``None`` values
    are dropped so an absent flag does not hide the file or the environment.
    """
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    toml_path = config_file
    init = _drop_none(overrides)
    token = os.environ.get("MAIRUST_ADMIN_TOKEN")
    if token and "admin_token" not in init.get("api", {}):
        init.setdefault("api", {})["admin_token"] = token

    class _FromSources(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if toml_path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
            return tuple(sources)

    loaded = _FromSources(**init)
    # A plain Settings (validated, not re-read from the environment) pickles for Ray.
    return Settings.model_validate(loaded.model_dump())


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested = _drop_none(value)
            if nested:
                cleaned[key] = nested
        elif value is not None:
            cleaned[key] = value
    return cleaned
