"""SafeHttpClient against a real loopback server: the guard checks after resolution and on
every redirect, connects to the checked address with the URL's host for TLS and Host, and
every failure is a typed error."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mairust.net.address_guard import AddressPolicy, DestinationRefused, IPAddress
from mairust.net.host_resolver import HostUnresolvable, system_resolver
from mairust.net.http_client import (
    ClientLimits,
    ConnectionFailed,
    InvalidDestination,
    RequestTimedOut,
    ResponseTooLarge,
    SafeHttpClient,
    TooManyRedirects,
)
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
