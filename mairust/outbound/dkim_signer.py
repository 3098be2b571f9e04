"""DKIM signing of outbound mail (RFC 6376; ed25519-sha256 per RFC 8463), the crypto in OpenSSL.

A :class:`DkimSigner` is built once per key set (each PEM parsed once, the signed header
list fixed); :meth:`DkimSigner.sign` then costs the canonicalisation, two SHA-256 passes
and one private-key operation per key. With both an RSA and an ed25519 key it returns two
DKIM-Signature fields over the same body hash.

Canonicalisation is relaxed/relaxed and written here (RFC 6376 §3.4.2, §3.4.4: a few lines
of byte regexes), not taken from dkimpy: dkimpy's ``sign`` does its RSA in pure Python
(~190 signs/s a core), and its canonicalisation is bound to its own message parsing and
signing path, so reusing only that part would mean depending on its internals. Every
signature we make is checked in the tests by dkimpy and by OpenDKIM, two independent
verifiers, for both key types. The RSA and ed25519 steps go through ``cryptography``
(OpenSSL).

The input is the message as it will be emitted: CRLF line endings only (a bare CR or LF
is refused, since what we sign must be byte-for-byte what the next hop receives). ``l=``
is never used (it lets anyone append unsigned content); ``t=`` is always set, ``x=`` when
``expire_after`` is given. From and the other fields RFC 5322 allows once are
"oversigned" (listed once more than they occur), so adding another copy in transit
breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mairust.errors import InvalidInput
from mairust.model.dkim_keys import DkimAlgorithm

# Signed when present. MIME and list fields too: List-Unsubscribe(-Post) must be covered
# for one-click unsubscribe to be honoured (RFC 8058 §4).
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "content-description",
    "list-id",
    "list-help",
    "list-post",
    "list-owner",
    "list-subscribe",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
)
# Listed once more than they occur, so a copy added in transit fails verification: the
# fields RFC 5322 §3.6 allows at most once, and the one-click unsubscribe pair.
OVERSIGNED_HEADERS: frozenset[str] = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)

_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_AT_LINE_END = re.compile(rb"[ \t]+\r\n")
_WSP_TO_ONE_SP = re.compile(rb"\t[ \t]*| [ \t]+")  # every run but a lone SP
_TRAILING_CRLFS = re.compile(rb"(?:\r\n)+\Z")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_FIELD_START = re.compile(rb"\r\n(?![ \t])")
_LINE = 76  # where we fold our own field's lines


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key to sign with: ``d=`` domain, ``s=`` selector, the private key as PEM
    (PKCS#8). Its ``repr`` leaves the key out."""

    domain: str
    selector: str
    algorithm: DkimAlgorithm
    private_pem: bytes

    def __repr__(self) -> str:
        return f"SigningKey({self.domain!r}, {self.selector!r}, {self.algorithm.value})"


@dataclass(frozen=True, slots=True)
class _LoadedKey:
    domain: str
    selector: str
    algorithm: DkimAlgorithm
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: WSP runs become one SP, WSP at line ends and empty lines at the
    end go, a non-empty body ends in one CRLF."""
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    # Most bodies have neither; the substring tests (C speed) spare the regex passes.
    if b" \r\n" in body or b"\t\r\n" in body:
        body = _WSP_AT_LINE_END.sub(b"\r\n", body)
    if b"\t" in body or b"  " in body:
        body = _WSP_TO_ONE_SP.sub(b" ", body)
    if body.endswith(b"\r\n\r\n"):
        body = _TRAILING_CRLFS.sub(b"\r\n", body)
    return b"" if body == b"\r\n" else body


def relaxed_header(field: bytes) -> bytes:
    """RFC 6376 §3.4.2 for one field (no final CRLF): name lower-cased, unfolded, WSP runs
    one SP, no WSP around the colon or at the end; ends in CRLF."""
    name, _, value = _FOLD.sub(b"", field).partition(b":")
    value = _WSP_RUN.sub(b" ", value).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """The header fields as ``(lower-case name, raw field without final CRLF)``, top to
    bottom, and the body."""
    head, separator, body = message.partition(b"\r\n\r\n")
    if not separator and head.endswith(b"\r\n"):
        head = head[:-2]  # headers only, no body
    fields: list[tuple[str, bytes]] = []
    for field in _FIELD_START.split(head) if head else []:
        name = field.split(b":", 1)[0].strip(b" \t").lower()
        fields.append((name.decode("ascii", "replace"), field))
    return fields, body


class DkimSigner:
    """Signs messages with one or more keys (keys parsed once, here).

    ``clock`` gives ``t=`` (injectable for tests); ``expire_after`` adds ``x=``. Raises
    InvalidInput for a key that is not PEM of the declared type (or RSA under 2048 bits).
    """

    def __init__(
        self,
        keys: Sequence[SigningKey],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        expire_after: timedelta | None = None,
    ) -> None:
        if not keys:
            raise InvalidInput("a signer needs at least one key")
        self._keys = tuple(_load(key) for key in keys)
        self._clock = clock
        self._expire_after = expire_after

    @property
    def selectors(self) -> tuple[str, ...]:
        return tuple(key.selector for key in self._keys)

    def sign(self, message: bytes) -> bytes:
        """The DKIM-Signature field(s) to put on top of ``message``, each ending in CRLF."""
        crlf = message.count(b"\r\n")
        if message.count(b"\r") != crlf or message.count(b"\n") != crlf:
            raise InvalidInput("a message to sign has CRLF line endings only")
        fields, body = split_message(message)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        names = _signed_names(fields)
        headers_hash = hashlib.sha256(b"".join(_selected_fields(fields, names)))
        now = int(self._clock().timestamp())
        out = []
        for key in self._keys:
            tags = [
                "v=1",
                f"a={key.algorithm.signature_algorithm}",
                "c=relaxed/relaxed",
                f"d={key.domain}",
                f"s={key.selector}",
                f"t={now}",
            ]
            if self._expire_after is not None:
                tags.append(f"x={now + int(self._expire_after.total_seconds())}")
            tags += [f"h={':'.join(names)}", f"bh={body_hash}"]
            unsigned = _fold_field("DKIM-Signature: " + "; ".join(tags) + "; b=")
            digest = headers_hash.copy()
            # Hashed without its final CRLF (RFC 6376 §3.7), b= empty.
            digest.update(relaxed_header(unsigned)[:-2])
            signature = base64.b64encode(_sign_digest(key, digest.digest())).decode()
            out.append(unsigned + _fold_base64(signature, len(unsigned.rsplit(b"\n", 1)[-1])))
        return b"".join(field + b"\r\n" for field in out)

    def signed(self, message: bytes) -> bytes:
        """``message`` with its DKIM-Signature field(s) on top."""
        return self.sign(message) + message


def _load(key: SigningKey) -> _LoadedKey:
    try:
        private = serialization.load_pem_private_key(key.private_pem, password=None)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"DKIM key {key.selector}: not a PEM private key") from error
    if key.algorithm is DkimAlgorithm.RSA2048:
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < 2048:
            raise InvalidInput(f"DKIM key {key.selector}: not an RSA key of 2048 bits or more")
        return _LoadedKey(key.domain, key.selector, key.algorithm, private)
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise InvalidInput(f"DKIM key {key.selector}: not an ed25519 key")
    return _LoadedKey(key.domain, key.selector, key.algorithm, private)


def _sign_digest(key: _LoadedKey, digest: bytes) -> bytes:
    if isinstance(key.private, rsa.RSAPrivateKey):
        return key.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    # RFC 8463 §3: Ed25519 (pure) over the SHA-256 hash of the canonicalised headers.
    return key.private.sign(digest)


def _signed_names(fields: list[tuple[str, bytes]]) -> list[str]:
    """``h=``: each listed field once per occurrence, oversigned ones once more."""
    counts: dict[str, int] = {}
    for name, _ in fields:
        counts[name] = counts.get(name, 0) + 1
    names: list[str] = []
    for name in SIGNED_HEADERS:
        extra = 1 if name in OVERSIGNED_HEADERS else 0
        names += [name] * (counts.get(name, 0) + extra)
    return names


def _selected_fields(fields: list[tuple[str, bytes]], names: list[str]) -> list[bytes]:
    """The canonical fields ``names`` picks, each name taking its instances from the
    bottom up; a name with none left adds nothing (RFC 6376 §5.4.2)."""
    by_name: dict[str, list[bytes]] = {}
    for name, field in fields:
        by_name.setdefault(name, []).append(field)
    selected = []
    for name in names:
        instances = by_name.get(name)
        if instances:
            selected.append(relaxed_header(instances.pop()))
    return selected


def _fold_field(text: str) -> bytes:
    """Fold at "; " and ":" so no line passes ``_LINE`` (a tag may still, e.g. bh=)."""
    lines: list[str] = []
    line = ""
    for token in re.split(r"(?<=; )|(?=:)", text):
        if line and len(line) + len(token) > _LINE:
            lines.append(line.rstrip(" "))
            line = "\t"
        line += token
    lines.append(line)
    return "\r\n".join(lines).encode("ascii")


def _fold_base64(value: str, column: int) -> bytes:
    first = max(_LINE - column, 0)
    chunks = [value[:first]] + [value[i : i + 72] for i in range(first, len(value), 72)]
    if not chunks[0]:
        chunks.pop(0)
        return b"\r\n\t" + "\r\n\t".join(chunks).encode("ascii")
    return "\r\n\t".join(chunks).encode("ascii")


def private_key_pem(algorithm: DkimAlgorithm) -> bytes:
    """A new private key of ``algorithm`` as PKCS#8 PEM."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm is DkimAlgorithm.RSA2048:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_text(algorithm: DkimAlgorithm, private_pem: bytes) -> str:
    """The ``p=`` value for the key in ``private_pem``: base64 of the DER
    SubjectPublicKeyInfo (rsa), of the 32 raw bytes (ed25519, RFC 8463 §4.2)."""
    private = _load(SigningKey("", "", algorithm, private_pem)).private
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raw = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(raw).decode("ascii")


def dns_record_text(algorithm: DkimAlgorithm, public_key: str) -> str:
    """The TXT record at ``<selector>._domainkey.<domain>``."""
    return f"v=DKIM1; k={algorithm.key_type}; p={public_key}"
