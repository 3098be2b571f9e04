"""The credentials outbound delivery logs in to relay hosts with (``[relay] auth``).

The configuration names, per relay host, a user name and the id of a platform secret
(purpose ``relay-password``) holding the password: the password lives only in the secret
store, sealed like every other secret, re-sealed by a key rotation, never in an API answer
or a log line. :meth:`RelayLogins.credentials_for` is the
:class:`~mairust.outbound.smtp_sender.SmtpDestinationSender`'s ``credentials_for`` hook:
it reads the secret at each session (a changed password counts from the next session
without a restart), only for the relay hosts configured.

Why a user name in config and a secret id beside it, not one secret holding both: the
user name is no secret, an operator reading a deferral ("refused AUTH PLAIN as X") or the
config should see it, and changing it needs no re-sealing. Keys are normalised like the
relay rules' targets, so ``SMTP.Relay.example:587`` in config matches the rule's
``smtp.relay.example:587``; a key that is no relay host is refused at start.
"""

from __future__ import annotations

from collections.abc import Mapping

from mairust.config import RelayLogin, Settings
from mairust.errors import InvalidInput
from mairust.model.policy import LMTP_PREFIX, normalize_relay_host
from mairust.model.scope import PLATFORM
from mairust.outbound.smtp_types import Credentials
from mairust.regions import regions_of
from mairust.secrets.vault import SecretVault


class RelayLogins:
    """``[relay] auth`` over the secret store (see the module docstring)."""

    def __init__(self, logins: Mapping[str, RelayLogin], vault: SecretVault | None) -> None:
        """InvalidInput for a key that is no SMTP relay host, or logins without a vault
        (no ``secrets.key``: the passwords could not be read)."""
        self._logins: dict[str, RelayLogin] = {}
        for relay, login in logins.items():
            key = normalize_relay_host(relay)
            if key.startswith(LMTP_PREFIX):
                raise InvalidInput(f"relay.auth: {relay!r} is an LMTP server (no AUTH there)")
            self._logins[key] = login
        if self._logins and vault is None:
            raise InvalidInput("relay.auth needs the secret store (secrets.key) for passwords")
        self._vault = vault

    @property
    def relays(self) -> frozenset[str]:
        return frozenset(self._logins)

    def credentials_for(self, relay_host: str) -> Credentials | None:
        """The credentials for ``relay_host`` (a rule's target), None if it needs none.
        NotFound / SecretUnreadable if the named secret is gone or does not open."""
        login = self._logins.get(relay_host)
        if login is None or self._vault is None:
            return None
        password = self._vault.reveal(PLATFORM, login.password_secret)
        return Credentials(login.username, password.decode("utf-8"))


def region_logins(settings: Settings) -> dict[str, RelayLogin]:
    """The relay logins of the other regions (``[regions]``), keyed by relay endpoint:
    mail for a tenant homed there is relayed with them (none for a single region)."""
    regions = regions_of(settings.regions.file, settings.regions.local)
    if regions is None:
        return {}
    return {
        region.relay_endpoint: RelayLogin(
            username=region.relay_username, password_secret=region.relay_password_secret
        )
        for region in regions.others
    }
