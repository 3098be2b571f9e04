"""``SafeHttpClient``: the ONE outgoing HTTP client of the platform (webhooks, HTTP plugins).

Every connection it opens goes through :class:`GuardedNetworkBackend`, httpcore's socket
layer with the address guard in it: the host is resolved ONCE by the injected resolver,
EVERY address is checked against the :class:`~mairust.net.address_guard.AddressPolicy`
(one refused address refuses the host: a name that mixes a public and a private address
is an attack, not a mistake), and the socket is opened to a checked address, never to
the name, so no second lookup can answer differently. TLS is started by httpcore on that
socket with the URL's host as SNI and as the name the certificate must match, and the
``Host`` header comes from the URL too: pinning the address changes nothing the server sees.

Redirects are followed here, one hop at a time (at most ``max_redirects``); each hop to
another host opens a new connection and so passes the guard again. Proxies from the
environment are ignored (a proxy would be the address connected to). Every exchange is
bounded: connect and read timeouts, a total deadline over all hops, and a cap on the
response body. Failures are typed (:class:`OutgoingRequestError` and its subclasses),
never a transport traceback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import httpcore
import httpx

from mairust.net.address_guard import AddressPolicy, IPAddress, OutgoingRequestError
from mairust.net.host_resolver import HostResolver, literal_address, system_resolver

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Dropped when a redirect leaves the origin: they were meant for the first server only.
_ORIGIN_BOUND_HEADERS = ("authorization", "cookie", "proxy-authorization")


class InvalidDestination(OutgoingRequestError):
    """The URL is not one this client sends to (not http/https, no host, malformed)."""


class RequestTimedOut(OutgoingRequestError):
    """Connecting, sending, or the answer took longer than the limits allow."""


class ConnectionFailed(OutgoingRequestError):
    """No connection, or the peer broke the HTTP exchange (refused, reset, bad TLS)."""


class TooManyRedirects(OutgoingRequestError):
    """More redirects than ``max_redirects``."""


class ResponseTooLarge(OutgoingRequestError):
    """The response body is larger than ``max_response_bytes``."""


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """Bounds on every request (seconds, bytes, hops)."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 3
    max_response_bytes: int = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete (bounded) answer; ``url`` is where it came from after redirects."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's socket layer with resolve → check every address → connect to one."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: HostResolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str) -> list[IPAddress]:
        """The addresses of ``host``, every one allowed; DestinationRefused otherwise."""
        literal = literal_address(host)
        addresses = [literal] if literal is not None else list(await self._resolver(host))
        for address in addresses:
            self._policy.check(host, address)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.checked_addresses(host)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                log.debug("connect to %s (%s) port %d failed: %s", host, address, port, error)
                last_error = error
        assert last_error is not None  # a resolver returns addresses or raises
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise InvalidDestination("unix sockets are not an outgoing destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CoreStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpcore.Response) -> None:
        self._response = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._response.aiter_stream():
            yield part

    async def aclose(self) -> None:
        await self._response.aclose()


class _GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose sockets the guard opens."""

    def __init__(self, backend: GuardedNetworkBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=30.0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@functools.cache
def default_tls_context() -> ssl.SSLContext:
    """The system's default TLS settings and CA store, made once per process: loading the
    CA store takes ~15 ms, and every client (one per webhook sender, hook runtime and API
    app) would otherwise load it again. A context may be shared by any number of
    connections."""
    return ssl.create_default_context()


class SafeHttpClient:
    """Sends requests to destinations the address policy allows; see the module doc."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: HostResolver = system_resolver,
        limits: ClientLimits | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "MaiRust-Webhooks/1",
    ) -> None:
        self.limits = limits or ClientLimits()
        backend = GuardedNetworkBackend(policy, resolver)
        self._backend = backend
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(backend, ssl_context or default_tls_context()),
            timeout=httpx.Timeout(
                self.limits.read_timeout, connect=self.limits.connect_timeout, pool=5.0
            ),
            follow_redirects=False,
            trust_env=False,  # no proxy or netrc from the environment
            headers={"user-agent": user_agent},
        )

    async def checked_addresses(self, host: str) -> list[IPAddress]:
        """The addresses of ``host`` this client's guard allows (resolved once, each one
        checked; DestinationRefused otherwise): for a transport of another protocol (gRPC)
        that connects under the same policy and resolver."""
        return await self._backend.checked_addresses(host)

    async def post(
        self, url: str, content: bytes, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        return await self.request("POST", url, content, headers)

    async def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send, follow redirects, read the bounded answer; any status is returned as is."""
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                return await self._exchange(method, url, content, dict(headers or {}))
        except TimeoutError as error:
            raise RequestTimedOut(
                f"{method} {url}: no complete answer within {self.limits.total_timeout} s"
            ) from error
        except (httpcore.TimeoutException, httpx.TimeoutException) as error:
            raise RequestTimedOut(f"{method} {url}: {type(error).__name__} {error}") from error
        except (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise InvalidDestination(f"{url}: {error}") from error
        except (httpcore.ConnectError, httpx.ConnectError) as error:
            raise ConnectionFailed(f"{method} {url}: cannot connect: {error}") from error
        except (httpcore.NetworkError, httpcore.ProtocolError, httpx.TransportError) as error:
            raise ConnectionFailed(f"{method} {url}: {type(error).__name__} {error}") from error

    async def _exchange(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str]
    ) -> HttpResponse:
        target = _checked_url(url)
        for hop in range(self.limits.max_redirects + 1):
            request = self._client.build_request(method, target, content=content, headers=headers)
            response = await self._client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECTS or location is None:
                    body = await self._bounded_body(response)
                    return HttpResponse(
                        response.status_code, dict(response.headers), body, str(target)
                    )
            finally:
                await response.aclose()
            following = _checked_url(target.join(location))
            log.debug("hop %d: %s %s → %s", hop + 1, method, target, following)
            if response.status_code in (301, 302, 303) and method != "HEAD":
                # What every client does: the body is not sent again after these.
                method, content = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if _origin(following) != _origin(target):
                headers = {
                    k: v for k, v in headers.items() if k.lower() not in _ORIGIN_BOUND_HEADERS
                }
            target = following
        raise TooManyRedirects(f"{url}: more than {self.limits.max_redirects} redirects")

    async def _bounded_body(self, response: httpx.Response) -> bytes:
        limit = self.limits.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(f"{response.url}: {declared} bytes declared, limit {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"{response.url}: more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        await self._client.aclose()


def _checked_url(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise InvalidDestination(f"{url}: {error}") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidDestination(f"{url}: only http and https URLs with a host are sent to")
    return parsed


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port
