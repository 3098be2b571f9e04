"""API tokens: issue (shown once), list, revoke, and turn a bearer token into a Principal.

A token is 256 random bits behind a ``mrt_`` prefix (so secret scanners can spot one). In a
deployment of several regions the prefix also names the region that issued it,
``mrt_<region>_...`` (:func:`issuing_region`): the directory is not replicated, so only that
region can check the token, and another region that receives it redirects the caller there
without a store read (``mairust.api.regions``). The region is part of the secret, so it
cannot be changed without making the token unknown. The
store keeps only HMAC-SHA-256(key, token): a fast keyed hash is enough for a value that
cannot be guessed, and the API cannot pay a password KDF (~50 ms) on every call. Nobody
gets a token above their own standing: a tenant admin issues tokens in their tenant, a
user only for their own mailbox, and never with a permission they lack themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mairust.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from mairust.model.access import ApiToken
from mairust.model.address import normalize_address
from mairust.model.ids import new_id
from mairust.model.principal import Permission, Principal, Role, outranks_or_equals
from mairust.model.scope import PLATFORM, TenantScope
from mairust.passwords import verify_password
from mairust.services.access import require
from mairust.services.audit import AuditTrail, Clock, utc_now
from mairust.storage.protocols import DirectoryStore, TokenStore

TOKEN_PREFIX = "mrt_"
# A region's name (mairust.regions) as a token carries it: ``mrt_<region>_<random>``.
_TOKEN_REGION = re.compile(r"mrt_([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)_.")
# A login token lives an hour: long enough for a UI session, short if it leaks.
LOGIN_TOKEN_LIFETIME = timedelta(hours=1)
# last_used_at is written at most this often per token (a write per request costs too much).
TOUCH_INTERVAL = timedelta(minutes=1)
# Tokens a process keeps known at most (the least recently found is forgotten first).
KNOWN_TOKENS = 10_000
_PERMISSIONS_OF_ROLE = {
    Role.USER: frozenset({Permission.READ, Permission.WRITE, Permission.SEND}),
    Role.TENANT_ADMIN: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
}
_INVALID = "The bearer token is not valid."


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token and the one copy of its secret the caller will ever see."""

    token: ApiToken
    secret: str


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What a caller asks for; unset fields default to the caller's own standing."""

    name: str
    permissions: frozenset[Permission]
    role: Role | None = None
    tenant_id: str | None = None
    # For a USER token: whose (a mailbox id of the tenant).
    mailbox_id: str | None = None
    expires_at: datetime | None = None


class TokenService:
    def __init__(
        self,
        tokens: TokenStore,
        directory: DirectoryStore,
        audit: AuditTrail,
        digest_keys: Sequence[bytes],
        clock: Clock = utc_now,
        cache_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        region: str | None = None,
    ) -> None:
        """``digest_keys``: the current key first (new tokens), then keys from before a
        rotation (tokens issued under them still work while those keys are configured).
        ``cache_seconds``: how long a token found stays known to this process without a
        store read (``api.token_cache_seconds``; 0: every request reads the store); a token
        revoked in another process still opens this one's API for at most that long.
        ``region``: this region's name, carried by the tokens it issues (None: a
        deployment of one region, tokens carry none)."""
        if not digest_keys or any(len(key) < 32 for key in digest_keys):
            raise ValueError("token digest keys must be at least 32 bytes, and one is needed")
        self._tokens = tokens
        self._directory = directory
        self._audit = audit
        self._keys = tuple(digest_keys)
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._prefix = f"{TOKEN_PREFIX}{region}_" if region else TOKEN_PREFIX
        # digest under the current key -> (when it was read, the token); oldest first.
        self._known: OrderedDict[str, tuple[float, ApiToken]] = OrderedDict()
        self._known_lock = threading.Lock()

    def digest(self, secret: str, key: bytes | None = None) -> str:
        """The digest a token is stored under (by default, under the current key)."""
        return hmac.new(key or self._keys[0], secret.encode(), hashlib.sha256).hexdigest()

    # -- authentication ------------------------------------------------------------
    def known_principal(self, secret: str, source: str) -> Principal | None:
        """The principal of a token found within ``cache_seconds``, with no store read
        (None: ask :meth:`authenticate`); Unauthenticated if it has expired since."""
        if self._cache_seconds <= 0 or not secret.startswith(TOKEN_PREFIX):
            return None
        digest = self.digest(secret)
        with self._known_lock:
            found = self._known.get(digest)
        if found is None or self._monotonic() - found[0] >= self._cache_seconds:
            return None
        if not found[1].usable_at(self._clock()):
            raise Unauthenticated(_INVALID)
        return _principal_of(found[1], source)

    def authenticate(self, secret: str, source: str) -> Principal:
        """The principal of a bearer token; Unauthenticated if unknown, expired or revoked."""
        if not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated(_INVALID)
        token = None
        for key in self._keys:
            token = self._tokens.find_token(self.digest(secret, key))
            if token is not None:
                break
        now = self._clock()
        if token is None or not token.usable_at(now):
            raise Unauthenticated(_INVALID)
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
            self._tokens.touch_token(token.id, now)
        if self._cache_seconds > 0:
            with self._known_lock:
                digest = self.digest(secret)
                self._known[digest] = (self._monotonic(), token)
                self._known.move_to_end(digest)
                while len(self._known) > KNOWN_TOKENS:
                    self._known.popitem(last=False)
        return _principal_of(token, source)

    def authenticate_sender(self, address: str, secret: str) -> bool:
        """Whether ``secret`` is a usable token of the mailbox ``address`` holding ``send``
        (SMTP AUTH on submission takes one in place of the password). A token of another
        mailbox, a tenant-wide token, or one without ``send`` is refused."""
        if not secret.startswith(TOKEN_PREFIX):
            return False
        try:
            mailbox = self._directory.find_mailbox(normalize_address(address))
        except InvalidInput:
            return False
        token = None
        for key in self._keys:
            token = self._tokens.find_token(self.digest(secret, key))
            if token is not None:
                break
        now = self._clock()
        if (
            mailbox is None
            or token is None
            or not token.usable_at(now)
            or Permission.SEND not in token.permissions
            or token.mailbox_id != mailbox.id
            or token.tenant_id != mailbox.tenant_id
        ):
            return False
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
            self._tokens.touch_token(token.id, now)
        return True

    def log_in(self, address: str, password: str, source: str) -> IssuedToken:
        """A short-lived token for a mailbox user's password (what the web UI uses)."""
        try:
            mailbox = self._directory.find_mailbox(normalize_address(address))
        except InvalidInput:
            mailbox = None
        # The same answer for an unknown address and a wrong password.
        if mailbox is None or mailbox.password_hash is None:
            raise Unauthenticated("unknown address or wrong password")
        if not verify_password(password, mailbox.password_hash):
            raise Unauthenticated("unknown address or wrong password")
        token = ApiToken(
            id=new_id(),
            name="login",
            role=mailbox.role,
            tenant_id=mailbox.tenant_id,
            # Whose login it is; only a USER's scope is confined to it.
            mailbox_id=mailbox.id,
            permissions=_PERMISSIONS_OF_ROLE[mailbox.role],
            created_by=f"login:{mailbox.address}",
            created_at=self._clock(),
            expires_at=self._clock() + LOGIN_TOKEN_LIFETIME,
        )
        return self._store(token)

    # -- management ----------------------------------------------------------------
    def issue(self, principal: Principal, request: TokenRequest) -> IssuedToken:
        require(principal, Permission.ADMIN)
        role = request.role or principal.role
        if not outranks_or_equals(principal.role, role):
            raise Forbidden(f"a {principal.role.value} cannot issue a {role.value} token")
        extra = request.permissions - principal.permissions
        if extra:
            raise Forbidden(f"a token cannot hold permissions its issuer lacks: {_names(extra)}")
        if not request.permissions:
            raise InvalidInput("a token needs at least one permission")
        if request.expires_at is not None and request.expires_at <= self._clock():
            raise InvalidInput("expires_at is in the past")
        tenant_id, mailbox_id = self._placement(principal, role, request)
        token = ApiToken(
            id=new_id(),
            name=request.name,
            role=role,
            tenant_id=tenant_id,
            mailbox_id=mailbox_id,
            permissions=request.permissions,
            created_by=principal.actor,
            created_at=self._clock(),
            expires_at=request.expires_at,
        )
        issued = self._store(token)
        self._audit.record(
            principal,
            "token.create",
            token.id,
            tenant_id,
            {"name": token.name, "role": role.value, "permissions": _names(token.permissions)},
        )
        return issued

    def list_tokens(
        self, principal: Principal, limit: int = 100, after: str | None = None
    ) -> list[ApiToken]:
        require(principal, Permission.READ)
        return self._tokens.list_tokens(principal.scope, limit=limit, after=after)

    def revoke(self, principal: Principal, token_id: str) -> ApiToken:
        # Users may revoke their own tokens; everyone else needs the admin permission.
        if principal.role is not Role.USER:
            require(principal, Permission.ADMIN)
        token = self._tokens.revoke_token(principal.scope, token_id, self._clock())
        with self._known_lock:  # this process forgets it at once
            for digest in [d for d, (_, t) in self._known.items() if t.id == token.id]:
                del self._known[digest]
        self._audit.record(principal, "token.revoke", token.id, token.tenant_id)
        return token

    def _store(self, token: ApiToken) -> IssuedToken:
        secret = self._prefix + secrets.token_urlsafe(32)
        self._tokens.add_token(token, self.digest(secret))
        return IssuedToken(token, secret)

    def _placement(
        self, principal: Principal, role: Role, request: TokenRequest
    ) -> tuple[str | None, str | None]:
        """The tenant and mailbox the new token is confined to, inside the issuer's."""
        if role is Role.ADMIN:
            return None, None
        tenant_id = principal.tenant_id or request.tenant_id
        if tenant_id is None and role is Role.USER and request.mailbox_id is not None:
            # A user token's mailbox names its tenant (looked up through the issuer's scope).
            tenant_id = self._directory.get_mailbox(principal.scope, request.mailbox_id).tenant_id
        if tenant_id is None:
            raise InvalidInput("a tenant_admin or user token names its tenant")
        if principal.tenant_id is not None and request.tenant_id not in (None, tenant_id):
            raise NotFound(f"no tenant {request.tenant_id!r}")
        if self._directory.get_tenant(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        if role is Role.TENANT_ADMIN:
            return tenant_id, None
        scope = principal.scope if isinstance(principal.scope, TenantScope) else None
        mailbox_id = request.mailbox_id or (scope.mailbox_id if scope else None)
        if mailbox_id is None:
            raise InvalidInput("a user token names its mailbox (mailbox_id)")
        # Through the issuer's scope: a user can only name their own mailbox.
        mailbox = self._directory.get_mailbox(principal.scope, mailbox_id)
        if mailbox.tenant_id != tenant_id:
            raise NotFound(f"no mailbox {mailbox_id!r}")
        return tenant_id, mailbox.id


def issuing_region(secret: str) -> str | None:
    """The region a bearer token names (``mrt_<region>_...``), None when it names none.

    Only the form is read, nothing is looked up: the answer says nothing about whether the
    token is valid. A token of a single-region deployment (``mrt_`` + random) may happen to
    read as one (its random part starting with lowercase letters and an ``_``); a caller
    acts only on the names of configured regions, which such an accident almost never
    spells."""
    found = _TOKEN_REGION.match(secret)
    return found.group(1) if found else None


def _principal_of(token: ApiToken, source: str) -> Principal:
    actor = f"token:{token.id}"
    if token.role is Role.ADMIN:
        return Principal(Role.ADMIN, PLATFORM, token.permissions, actor, source)
    assert token.tenant_id is not None  # only platform tokens lack a tenant
    mailbox_id = token.mailbox_id if token.role is Role.USER else None
    scope = TenantScope(token.tenant_id, mailbox_id)
    return Principal(token.role, scope, token.permissions, actor, source)


def _names(permissions: Iterable[Permission]) -> str:
    return ", ".join(sorted(p.value for p in permissions))
