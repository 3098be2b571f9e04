"""SafeHttpClient against a real loopback server: the guard checks after resolution and on
every redirect, connects to the checked address with the URL's host for TLS and Host, and
every failure is a typed error."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mairust.config import DnsSettings
from mairust.net.address_guard import AddressPolicy, DestinationRefused, IPAddress
from mairust.net.host_resolver import HostUnresolvable, configured_resolver, system_resolver
from mairust.net.http_client import (
    ClientLimits,
    ConnectionFailed,
    InvalidDestination,
    RequestTimedOut,
    ResponseTooLarge,
    SafeHttpClient,
    TooManyRedirects,
    default_tls_context,
)
from tests.support.dns_server import ZoneServer
from tests.support.http_sink import Reply, http_sink

LOOPBACK_ONLY = AddressPolicy.allowing(["127.0.0.1/32"])


class MapResolver:
    """Host → addresses from a dict; records what was asked."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str) -> Sequence[IPAddress]:
        self.asked.append(host)
        if host not in self.answers:
            raise HostUnresolvable(f"{host}: no such name (test)")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    resolver = MapResolver({"hooks.example": ["127.0.0.1"], "inside.example": ["10.0.0.7"]})
    http = SafeHttpClient(LOOPBACK_ONLY, resolver, ClientLimits(total_timeout=5.0))
    yield http
    await http.aclose()


async def test_a_post_reaches_an_allowed_address_with_the_hosts_name(
    client: SafeHttpClient,
) -> None:
    with http_sink(Reply(204, b"")) as sink:
        response = await client.post(
            sink.url(host="hooks.example"), b'{"a":1}', {"content-type": "application/json"}
        )
    assert response.status == 204
    [seen] = sink.requests
    assert (seen.method, seen.path, seen.body) == ("POST", "/hook", b'{"a":1}')
    assert seen.headers["host"] == f"hooks.example:{sink.port}"
    assert seen.headers["content-type"] == "application/json"


async def test_a_refused_address_is_never_connected_to() -> None:
    resolver = MapResolver({"hooks.example": ["127.0.0.1"]})
    client = SafeHttpClient(AddressPolicy(), resolver)  # nothing allowed
    try:
        with http_sink() as sink:
            with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is loopback"):
                await client.post(sink.url(host="hooks.example"), b"{}")
            with pytest.raises(DestinationRefused, match="loopback"):
                await client.post(sink.url(), b"{}")  # an IP literal is checked too
        assert sink.requests == []
        assert resolver.asked == ["hooks.example"]  # the literal needed no lookup
    finally:
        await client.aclose()


async def test_disguised_loopback_names_are_judged_by_what_they_resolve_to() -> None:
    client = SafeHttpClient(AddressPolicy(), system_resolver)
    try:
        with http_sink() as sink:
            for host in ("localhost", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]"):
                with pytest.raises(DestinationRefused, match="loopback"):
                    await client.post(sink.url(host=host), b"{}")
        assert sink.requests == []
    finally:
        await client.aclose()


async def test_one_refused_address_among_several_refuses_the_host() -> None:
    resolver = MapResolver({"mixed.example": ["127.0.0.1", "192.168.0.5"]})
    client = SafeHttpClient(LOOPBACK_ONLY, resolver)
    try:
        with (
            http_sink() as sink,
            pytest.raises(DestinationRefused, match=r"192\.168\.0\.5 is private"),
        ):
            await client.post(sink.url(host="mixed.example"), b"{}")
        assert sink.requests == []
    finally:
        await client.aclose()


async def test_a_redirect_to_a_refused_address_is_not_followed(client: SafeHttpClient) -> None:
    with (
        http_sink(Reply(307, location="http://inside.example/steal")) as sink,
        pytest.raises(DestinationRefused, match=r"inside\.example refused: 10\.0\.0\.7"),
    ):
        await client.post(sink.url(host="hooks.example"), b"{}")
    assert len(sink.requests) == 1


async def test_redirects_are_followed_to_allowed_places_up_to_the_limit(
    client: SafeHttpClient,
) -> None:
    with http_sink(Reply(308, location="/second"), Reply(303, location="/third")) as sink:
        response = await client.post(sink.url(host="hooks.example"), b"payload")
    assert response.status == 200
    assert response.url.endswith("/third")
    assert [(r.method, r.path, r.body) for r in sink.requests] == [
        ("POST", "/hook", b"payload"),
        ("POST", "/second", b"payload"),  # 307/308 keep the method and body
        ("GET", "/third", b""),  # 303 does not
    ]
    with (
        http_sink(default=Reply(302, location="/again")) as sink,
        pytest.raises(TooManyRedirects, match="more than 3 redirects"),
    ):
        await client.post(sink.url(host="hooks.example"), b"{}")
    assert len(sink.requests) == 4


async def test_a_redirect_to_another_scheme_is_invalid(client: SafeHttpClient) -> None:
    with (
        http_sink(Reply(302, location="file:///etc/passwd")) as sink,
        pytest.raises(InvalidDestination, match="only http and https"),
    ):
        await client.post(sink.url(host="hooks.example"), b"{}")
    assert len(sink.requests) == 1


async def test_the_response_body_is_bounded() -> None:
    limits = ClientLimits(max_response_bytes=1000)
    client = SafeHttpClient(LOOPBACK_ONLY, MapResolver({}), limits)
    try:
        with http_sink(Reply(200, b"x" * 1000), Reply(200, b"x" * 1001)) as sink:
            assert (await client.post(sink.url(), b"{}")).body == b"x" * 1000
            with pytest.raises(ResponseTooLarge, match="limit 1000"):
                await client.post(sink.url(), b"{}")
    finally:
        await client.aclose()


async def test_a_slow_answer_times_out() -> None:
    limits = ClientLimits(read_timeout=0.3, total_timeout=5.0)
    client = SafeHttpClient(LOOPBACK_ONLY, MapResolver({}), limits)
    try:
        with (
            http_sink(Reply(200, delay=1.5)) as sink,
            pytest.raises(RequestTimedOut, match="ReadTimeout"),
        ):
            await client.post(sink.url(), b"{}")
    finally:
        await client.aclose()
    limits = ClientLimits(read_timeout=5.0, total_timeout=0.3)
    client = SafeHttpClient(LOOPBACK_ONLY, MapResolver({}), limits)
    try:
        with (
            http_sink(Reply(200, delay=1.5)) as sink,
            pytest.raises(RequestTimedOut, match=r"within 0\.3 s"),
        ):
            await client.post(sink.url(), b"{}")
    finally:
        await client.aclose()


async def test_failures_to_connect_or_resolve_are_typed(client: SafeHttpClient) -> None:
    with http_sink() as sink:
        port = sink.port
    with pytest.raises(ConnectionFailed, match="cannot connect"):
        await client.post(f"http://127.0.0.1:{port}/closed", b"{}")
    with pytest.raises(HostUnresolvable, match=r"nowhere\.example"):
        await client.post("http://nowhere.example/hook", b"{}")
    with pytest.raises(InvalidDestination):
        await client.post("ftp://hooks.example/hook", b"{}")


def _tls_contexts(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for ``name``, and a client context
    that trusts only that certificate (and checks the host name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_tls_uses_the_urls_host_for_sni_and_the_certificate(tmp_path: Path) -> None:
    server_tls, client_tls = _tls_contexts(tmp_path, "hooks.example")
    resolver = MapResolver({"hooks.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    client = SafeHttpClient(LOOPBACK_ONLY, resolver, ssl_context=client_tls)
    try:
        with http_sink(tls=server_tls) as sink:
            response = await client.post(sink.url(host="hooks.example"), b"{}")
            assert response.status == 200
            assert sink.requests[0].headers["host"] == f"hooks.example:{sink.port}"
            # Same address, a name the certificate does not carry: verification fails.
            with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post(sink.url(host="other.example"), b"{}")
        assert len(sink.requests) == 1
    finally:
        await client.aclose()


# -- attacks, proven against a listener that counts the connections it accepts ----------


class CountingListener:
    """A TCP listener on ``host`` that counts accepted connections and answers each with
    ``answer`` (a whole HTTP response) before closing it."""

    def __init__(self, host: str, answer: bytes = b"", port: int = 0) -> None:
        self.answer = answer or b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        self.accepted = 0
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.1)
        self.host, self.port = host, self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="counting-listener")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            with conn:
                conn.settimeout(2.0)
                request = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in request:
                        part = conn.recv(4096)
                        if not part:
                            break
                        request += part
                    conn.sendall(self.answer)

    def __enter__(self) -> CountingListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


# Each spelling means 127.0.0.1 (or a metadata address); none may be connected to.
DISGUISED_HOSTS: list[tuple[str, type[Exception], str]] = [
    ("2130706433", DestinationRefused, r"127\.0\.0\.1 is loopback"),  # decimal
    ("0x7f000001", DestinationRefused, r"127\.0\.0\.1 is loopback"),  # hex
    ("0177.0.0.1", InvalidDestination, "Invalid IPv4 address"),  # octal: not a URL host
    ("127.1", DestinationRefused, r"127\.0\.0\.1 is loopback"),  # short form
    ("[::ffff:127.0.0.1]", DestinationRefused, "loopback"),  # IPv4-mapped IPv6
    ("[::ffff:7f00:1]", DestinationRefused, "loopback"),
    ("169.254.169.254", DestinationRefused, "a cloud metadata address"),
    ("[fd00:ec2::254]", DestinationRefused, "a cloud metadata address"),
    ("[::ffff:169.254.169.254]", DestinationRefused, "a cloud metadata address"),
]


@pytest.mark.parametrize(("host", "error", "reason"), DISGUISED_HOSTS)
async def test_disguised_loopback_and_metadata_urls_never_connect(
    host: str, error: type[Exception], reason: str
) -> None:
    client = SafeHttpClient(AddressPolicy(), system_resolver, ClientLimits(total_timeout=5.0))
    try:
        with CountingListener("127.0.0.1") as listener, pytest.raises(error, match=reason):
            await client.request("GET", f"http://{host}:{listener.port}/latest/meta-data/")
        assert listener.accepted == 0
    finally:
        await client.aclose()


async def test_the_listener_counts_a_connection_the_operator_allowed() -> None:
    # The control for the tests around it: allowed, the same URL does connect.
    client = SafeHttpClient(LOOPBACK_ONLY, system_resolver, ClientLimits(total_timeout=5.0))
    try:
        with CountingListener("127.0.0.1") as listener:
            response = await client.request("GET", f"http://2130706433:{listener.port}/")
        assert response.status == 200 and listener.accepted == 1
    finally:
        await client.aclose()


async def test_a_name_resolving_to_loopback_in_the_configured_dns_never_connects() -> None:
    zone = {"evil.test": {"A": ["127.0.0.1"]}, "six.evil.test": {"AAAA": ["::1"]}}
    with ZoneServer(zone) as dns, CountingListener("127.0.0.1") as listener:
        resolver = configured_resolver(DnsSettings(nameservers=["127.0.0.1"], port=dns.port))
        client = SafeHttpClient(AddressPolicy(), resolver, ClientLimits(total_timeout=5.0))
        try:
            for host in ("evil.test", "six.evil.test"):
                with pytest.raises(DestinationRefused, match="loopback"):
                    await client.request("GET", f"http://{host}:{listener.port}/")
        finally:
            await client.aclose()
    assert listener.accepted == 0


async def test_a_redirect_to_a_real_loopback_server_never_connects() -> None:
    with CountingListener("127.0.0.1") as inside:
        moved = f"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{inside.port}/admin\r\n"
        answer = (moved + "content-length: 0\r\nconnection: close\r\n\r\n").encode()
        with CountingListener("127.0.0.40", answer) as outside:
            # Only the first server's address is allowed: the redirect's target is not.
            policy = AddressPolicy.allowing(["127.0.0.40/32"])
            client = SafeHttpClient(policy, system_resolver, ClientLimits(total_timeout=5.0))
            try:
                with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is loopback"):
                    await client.request("GET", f"http://127.0.0.40:{outside.port}/hook")
            finally:
                await client.aclose()
        assert outside.accepted == 1
    assert inside.accepted == 0


async def test_dns_rebinding_after_the_check_cannot_reach_loopback() -> None:
    # The zone answers the allowed address once, then loopback (TTL 0): a client that
    # looked the name up again to connect would reach the loopback service on the same
    # port instead of the allowed one.
    zone: dict[str, dict[str, object]] = {"rebind.test": {"A": ["127.0.0.41"], "TTL": 0}}
    with ZoneServer(zone) as dns, CountingListener("127.0.0.1") as inside:
        configured = configured_resolver(DnsSettings(nameservers=["127.0.0.1"], port=dns.port))
        lookups: list[str] = []

        async def rebinding(host: str) -> Sequence[IPAddress]:
            answer = await configured(host)
            lookups.append(host)
            dns.records["rebind.test"] = {"A": ["127.0.0.1"], "TTL": 0}
            return answer

        policy = AddressPolicy.allowing(["127.0.0.41/32"])
        client = SafeHttpClient(policy, rebinding, ClientLimits(total_timeout=5.0))
        try:
            with CountingListener("127.0.0.41", port=inside.port) as allowed:
                response = await client.request("GET", f"http://rebind.test:{inside.port}/")
                # The next request sees the rebound answer, and is refused for it.
                with pytest.raises(DestinationRefused, match="loopback"):
                    await client.request("GET", f"http://rebind.test:{inside.port}/again")
        finally:
            await client.aclose()
        assert (await configured("rebind.test")) == [ipaddress.ip_address("127.0.0.1")]
    assert response.status == 200
    assert lookups == ["rebind.test", "rebind.test"]  # one lookup per request, no more
    assert allowed.accepted == 1
    assert inside.accepted == 0


def test_clients_share_one_default_tls_context_that_verifies():
    """Made once per process (loading the CA store is the cost), and a validating one."""
    context = default_tls_context()
    assert default_tls_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
