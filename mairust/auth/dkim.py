"""DKIM verification (RFC 6376, RFC 8463 ed25519, RFC 8301) over the injected resolver.

``verify_dkim`` returns one ``DkimResult`` per DKIM-Signature field, top to bottom, and a
single ``none`` when there is none. dkimpy does the canonicalisation and the cryptography;
this module owns everything around it so each outcome keeps its RFC 8601 word and a reason:

- the key is looked up through our ``Resolver``: a DNS failure is ``temperror``, a missing or
  unusable key ``permerror`` (dkimpy would fold both into a bare ``False``);
- time checks use ``now`` (dkimpy reads the wall clock): ``x=`` in the past is ``fail``
  ("signature expired"), ``t=`` more than ten hours ahead is ``permerror``;
- RSA keys under 1024 bits are ``permerror`` (RFC 8301 §3.2); keys of at least 1024 bits but
  under ``min_rsa_bits`` are ``policy``; ``rsa-sha1`` is ``permerror`` (RFC 8301 §3.1);
- a body hash mismatch is ``fail`` with reason "body hash did not verify";
- at most ``MAX_SIGNATURES`` (10) signatures are checked; later ones are ``permerror``;
- ``l=``: a signature whose ``l=`` covers the whole canonical body is judged as usual. One
  whose ``l=`` covers only part of it is ``policy`` even when the signed part verifies: the
  rest is unsigned content appended in transit (RFC 6376 §8.2), so we never let it count as
  ``pass`` (and so never toward DMARC). ``l=`` beyond the body is ``fail``.

Pure: no global state; the only input besides the arguments is the resolver.
"""

from __future__ import annotations

import binascii
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import dkim  # type: ignore[import-untyped]
from dkim.canonicalization import (  # type: ignore[import-untyped]
    CanonicalizationPolicy,
    InvalidCanonicalizationPolicyError,
)
from dkim.util import InvalidTagValueList, parse_tag_value  # type: ignore[import-untyped]

from mairust.auth.dns import DnsTempError, NxDomain, Resolver
from mairust.auth.results import DkimResult, DkimWord


class VerdictLogger(logging.LoggerAdapter[logging.Logger]):
    """The logger handed to dkimpy: it logs each failed check at ERROR, but a failed check
    is a verdict we report, not a fault of ours, so everything goes out at DEBUG."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


_DKIMPY_LOG = VerdictLogger(logging.getLogger(f"{__name__}.dkimpy"))

RSA_FLOOR_BITS = 1024  # RFC 8301 §3.2: verifiers MUST NOT accept smaller RSA keys
MAX_SIGNATURES = 10
FUTURE_SLOP_SECONDS = 36_000  # dkimpy's leeway for signers with wrong clocks
_KEY_TYPE_OF_ALGORITHM = {"rsa-sha256": "rsa", "ed25519-sha256": "ed25519"}
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# Errors dkimpy raises for input it cannot read (not only DKIMException: it decodes
# base64 and numbers from the header without guarding them).
_MALFORMED = (dkim.DKIMException, InvalidTagValueList, ValueError, TypeError, LookupError)


class _Verdict(Exception):
    """A signature's outcome decided before the end; carries word and reason."""

    def __init__(self, word: DkimWord, reason: str) -> None:
        super().__init__(reason)
        self.word = word
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Key:
    public: Any  # dkimpy's parsed key (RSA dict or nacl VerifyKey)
    bits: int
    kind: str  # "rsa" | "ed25519"
    tlsrpt_only: bool


def verify_dkim(
    resolver: Resolver,
    message: bytes,
    *,
    min_rsa_bits: int = RSA_FLOOR_BITS,
    now: float | None = None,
) -> tuple[DkimResult, ...]:
    """Every DKIM-Signature of ``message`` checked; never raises for anything in the message."""
    when = time.time() if now is None else now
    try:
        verifier = dkim.DKIM(message, logger=_DKIMPY_LOG, minkey=0)
    except _MALFORMED as exc:
        return (DkimResult(DkimWord.PERMERROR, reason=f"message could not be parsed: {exc}"),)
    fields = [(n, v) for n, v in verifier.headers if n.lower() == b"dkim-signature"]
    if not fields:
        return (DkimResult(DkimWord.NONE),)
    floor = max(min_rsa_bits, RSA_FLOOR_BITS)
    checked = [
        _verify_signature(resolver, verifier, f, floor, when) for f in fields[:MAX_SIGNATURES]
    ]
    # RFC 6376 §6.1 lets verifiers bound the work a message can ask for (each is a lookup).
    skipped = DkimResult(
        DkimWord.PERMERROR, reason=f"not checked: only the first {MAX_SIGNATURES} signatures are"
    )
    return tuple(checked) + (skipped,) * max(0, len(fields) - MAX_SIGNATURES)


def _verify_signature(
    resolver: Resolver, verifier: Any, field: tuple[bytes, bytes], min_rsa_bits: int, when: float
) -> DkimResult:
    try:
        tags: dict[bytes, bytes] = parse_tag_value(field[1])
    except InvalidTagValueList as exc:
        return DkimResult(DkimWord.PERMERROR, reason=f"malformed signature: {exc}")
    domain, selector = _text(tags.get(b"d")).lower(), _text(tags.get(b"s"))
    algorithm = _text(tags.get(b"a")).lower()
    prefix = re.sub(r"\s+", "", _text(tags.get(b"b")))[:8]

    def result(word: DkimWord, reason: str = "") -> DkimResult:
        return DkimResult(word, domain, selector, algorithm, prefix, reason)

    try:
        _check_fields(tags, when)
        key = _fetch_key(resolver, selector, domain)
        _check_key(key, algorithm, min_rsa_bits)
        signed, body_length = _signed_body_length(verifier, tags)
        verified = _check_signature(verifier, tags, field, key)
    except _Verdict as verdict:
        return result(verdict.word, verdict.reason)
    if not verified:
        return result(DkimWord.FAIL, "signature did not verify")
    if signed is not None and signed < body_length:
        return result(
            DkimWord.POLICY,
            f"l={signed} signs {signed} of {body_length} body bytes: unsigned content follows",
        )
    return result(DkimWord.PASS)


def _check_fields(tags: dict[bytes, bytes], when: float) -> None:
    """The tag checks dkimpy does, with our clock, and RFC 8301's algorithm floor."""
    timeless = {k: v for k, v in tags.items() if k not in (b"t", b"x")}
    try:
        dkim.validate_signature_fields(timeless)
    except _MALFORMED as exc:
        raise _Verdict(DkimWord.PERMERROR, f"malformed signature: {exc}") from exc
    if b"from" not in [h.strip().lower() for h in tags[b"h"].split(b":")]:
        raise _Verdict(DkimWord.PERMERROR, "h= does not sign From (RFC 6376 §5.4)")
    if tags[b"a"].lower() == b"rsa-sha1":
        raise _Verdict(DkimWord.PERMERROR, "rsa-sha1 is not accepted (RFC 8301)")
    signed_at = _timestamp(tags, b"t")
    expires = _timestamp(tags, b"x")
    if signed_at is not None and signed_at > when + FUTURE_SLOP_SECONDS:
        raise _Verdict(DkimWord.PERMERROR, f"t={signed_at} is in the future")
    if expires is not None and signed_at is not None and expires < signed_at:
        raise _Verdict(DkimWord.PERMERROR, f"x={expires} is before t={signed_at}")
    if expires is not None and expires < when:
        raise _Verdict(DkimWord.FAIL, f"signature expired (x={expires})")


def _timestamp(tags: dict[bytes, bytes], tag: bytes) -> int | None:
    value = tags.get(tag)
    if value is None:
        return None
    if not re.fullmatch(rb"\d{1,12}", value.strip()):
        raise _Verdict(DkimWord.PERMERROR, f"{tag.decode()}= is not a timestamp")
    return int(value)


def _fetch_key(resolver: Resolver, selector: str, domain: str) -> _Key:
    name = f"{selector}._domainkey.{domain}"
    try:
        # RFC 8616 §4: a d= in U-labels is looked up as A-labels.
        name = name if name.isascii() else name.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _Verdict(DkimWord.PERMERROR, f"d= is not a domain name: {exc}") from exc
    if not is_key_name(name):
        raise _Verdict(DkimWord.PERMERROR, f"s= and d= do not make a key name: {name!r}")
    try:
        records = resolver.lookup(name, "TXT")
    except DnsTempError as exc:
        raise _Verdict(DkimWord.TEMPERROR, f"key lookup failed: {exc}") from exc
    except NxDomain as exc:
        raise _Verdict(DkimWord.PERMERROR, f"no key for signature at {name}") from exc
    if not records:
        raise _Verdict(DkimWord.PERMERROR, f"no key for signature at {name}")
    # RFC 6376 §3.6.2.2 leaves the choice among several records to us: take the first.
    record = records[0].encode("utf-8", "surrogateescape")
    try:
        if parse_tag_value(record).get(b"p", b"x").strip() == b"":
            raise _Verdict(DkimWord.PERMERROR, f"key at {name} is revoked (empty p=)")
        public, bits, kind, tlsrpt_only = dkim.evaluate_pk(name.encode(), record)
    except _MALFORMED as exc:
        raise _Verdict(DkimWord.PERMERROR, f"key at {name} is unusable: {exc}") from exc
    if public is None:
        raise _Verdict(DkimWord.PERMERROR, f"key at {name} is not for email")
    return _Key(public, int(bits), kind.decode("ascii"), bool(tlsrpt_only))


def is_key_name(name: str) -> bool:
    """Whether ``name`` (ASCII) can be a key's DNS name: labels of letters, digits, - and _."""
    return len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def _check_key(key: _Key, algorithm: str, min_rsa_bits: int) -> None:
    if key.tlsrpt_only:
        raise _Verdict(DkimWord.PERMERROR, "key is for TLS reports only (s=tlsrpt)")
    if _KEY_TYPE_OF_ALGORITHM.get(algorithm) != key.kind:
        raise _Verdict(DkimWord.PERMERROR, f"a={algorithm} does not match a k={key.kind} key")
    if key.kind == "rsa" and key.bits < RSA_FLOOR_BITS:
        raise _Verdict(
            DkimWord.PERMERROR, f"RSA key of {key.bits} bits is under {RSA_FLOOR_BITS} (RFC 8301)"
        )
    if key.kind == "rsa" and key.bits < min_rsa_bits:
        raise _Verdict(
            DkimWord.POLICY, f"RSA key of {key.bits} bits is under the minimum of {min_rsa_bits}"
        )


def _signed_body_length(verifier: Any, tags: dict[bytes, bytes]) -> tuple[int | None, int]:
    """(``l=``, length of the canonical body), or (None, 0) without ``l=``; ``l=`` past the
    body is a fail. The body is canonicalised here only when ``l=`` asks for it."""
    try:
        policy = CanonicalizationPolicy.from_c_value(tags.get(b"c", b"simple/simple"))
    except InvalidCanonicalizationPolicyError as exc:
        raise _Verdict(DkimWord.PERMERROR, f"invalid c= value: {exc}") from exc
    if b"l" not in tags:
        return None, 0
    signed = int(tags[b"l"])
    length = len(policy.canonicalize_body(verifier.body))
    if signed > length:
        raise _Verdict(DkimWord.FAIL, f"l={signed} is longer than the body ({length} bytes)")
    return signed, length


def _check_signature(
    verifier: Any, tags: dict[bytes, bytes], field: tuple[bytes, bytes], key: _Key
) -> bool:
    """dkimpy's body-hash and signature check for one signature with our key; never raises."""
    verifier.pk, verifier.keysize, verifier.ktag = key.public, key.bits, key.kind.encode()
    verifier.seqtlsrpt = key.tlsrpt_only
    include = [h.strip().lower() for h in re.split(rb"\s*:\s*", tags[b"h"])]
    try:
        return bool(verifier.verify_sig_process(dict(tags), include, field, None))
    except dkim.ValidationError as exc:
        if "body hash" in str(exc):
            raise _Verdict(DkimWord.FAIL, "body hash did not verify") from exc
        raise _Verdict(DkimWord.PERMERROR, f"malformed signature: {exc}") from exc
    except (*_MALFORMED, binascii.Error) as exc:
        raise _Verdict(DkimWord.PERMERROR, f"signature could not be checked: {exc}") from exc


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace").strip()
