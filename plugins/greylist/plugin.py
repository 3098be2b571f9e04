"""The greylist plugin: at RCPT TO, a (client network, sender, recipient) triplet seen for
the first time is refused for now with ``451 4.7.1``. A mail server retries; a retry after
``delay_seconds`` passes, and the triplet then passes at once for ``pass_seconds``. A
first-seen triplet not retried within ``expiry_seconds`` is forgotten (and starts again).

The client network is the /24 (IPv4) or /64 (IPv6) of the client's address: a sender's
outgoing servers often share one, and a retry may come from a sibling. Its state (first
seen, passed) is the plugin's :class:`~mairust.plugin_sdk.PluginState`: shared by every
replica and every SMTP front-end, and kept across restarts. An authenticated client (a
submission) is never greylisted.
"""

from __future__ import annotations

import hashlib
import ipaddress

from mairust.plugin_sdk import (
    Config,
    HookRequest,
    HookResponse,
    Plugin,
    PluginState,
    proceed,
    tempfail,
)

REPLY = "451 4.7.1 greylisted, try again later"
DELAY_SECONDS = 300.0
EXPIRY_SECONDS = 4 * 3600.0
PASS_SECONDS = 36 * 86400.0
IPV4_PREFIX = 24
IPV6_PREFIX = 64
PASSED = "passed"
_SEEN = "seen:"

plugin = Plugin("greylist")


def client_network(
    address: str, ipv4_prefix: int = IPV4_PREFIX, ipv6_prefix: int = IPV6_PREFIX
) -> str:
    """The network the client's address is judged by (``192.0.2.0/24``); an address that
    does not parse stands for itself."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def triplet_key(network: str, sender: str, recipient: str) -> str:
    """The state key of a triplet (a digest: addresses are the correspondents' data)."""
    text = "\0".join((network, sender.lower(), recipient.lower()))
    return "t:" + hashlib.sha256(text.encode()).hexdigest()


@plugin.rcpt_to
async def check(request: HookRequest, config: Config, state: PluginState) -> HookResponse:
    envelope = request.envelope
    if envelope is None or envelope.authenticated_as or not envelope.rcpt_tos:
        return proceed()
    delay = float(config.get("delay_seconds", DELAY_SECONDS))
    expiry = float(config.get("expiry_seconds", EXPIRY_SECONDS))
    network = client_network(
        envelope.client_ip,
        int(config.get("ipv4_prefix", IPV4_PREFIX)),
        int(config.get("ipv6_prefix", IPV6_PREFIX)),
    )
    # At RCPT TO the envelope's last recipient is the one asked about.
    key = triplet_key(network, envelope.mail_from, envelope.rcpt_tos[-1])
    now = state.now()
    held = await state.add(key, f"{_SEEN}{now!r}", max(expiry, delay + 1.0))
    if held == PASSED:
        return proceed()
    first_seen = float(held.removeprefix(_SEEN))
    if now - first_seen >= delay:
        await state.put(key, PASSED, float(config.get("pass_seconds", PASS_SECONDS)))
        return proceed()
    waited = max(0.0, now - first_seen)
    return tempfail(f"greylisted ({network}): {waited:.0f} of {delay:.0f} s waited", reply=REPLY)
