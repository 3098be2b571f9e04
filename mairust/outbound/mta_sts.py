"""MTA-STS (RFC 8461) texts: the ``_mta-sts`` TXT record, the policy file, MX patterns.

Pure functions over what DNS and the policy host returned; fetching and caching are
``mta_sts_policies.py``'s. Everything here reads hostile input: whatever a domain
publishes, the answer is a value or a :class:`PolicyError` saying what is wrong, never
another exception.

- :func:`parse_sts_record`: of a name's TXT records, those starting ``v=STSv1;`` must be
  exactly one, with an ``id`` of 1 to 32 letters and digits (§3.1); anything else means
  "no policy" (None), as §3.1 has it.
- :func:`parse_policy`: ``key: value`` lines (LF or CRLF), ``version: STSv1``, ``mode``
  (enforce / testing / none), ``max_age`` (seconds, at most 31557600), one ``mx`` line per
  pattern (required unless mode is none); unknown keys are ignored (§3.2).
- :func:`mx_matches`: a host against a pattern; ``*.example.com`` stands for exactly one
  leftmost label (``mx.example.com``, not ``example.com`` nor ``a.b.example.com``, §4.1).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mairust.errors import MairustError

MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: about one year
MAX_POLICY_BYTES = 64 * 1024  # §3.3: senders may refuse larger policies
_RECORD_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class PolicyError(MairustError):
    """A policy (or its record) that cannot be used; the message says why."""


class PolicyMode(enum.StrEnum):
    """What a sender does with a policy (RFC 8461 §5)."""

    ENFORCE = "enforce"  # an MX that fails validation is not delivered to
    TESTING = "testing"  # failures are reported, mail goes out as without a policy
    NONE = "none"  # the domain withdraws its policy


@dataclass(frozen=True, slots=True)
class StsPolicy:
    """One parsed policy file."""

    mode: PolicyMode
    max_age: int  # seconds a sender may keep it
    mx: tuple[str, ...]  # lower-case patterns, "*.example.com" allowed

    def allows_mx(self, host: str) -> bool:
        """Whether ``host`` matches one of the policy's MX patterns."""
        return any(mx_matches(pattern, host) for pattern in self.mx)


def parse_sts_record(records: Sequence[str]) -> str | None:
    """The policy id of a domain's ``_mta-sts`` TXT records, or None when they do not
    announce exactly one well-formed STSv1 record (RFC 8461 §3.1)."""
    candidates = [r for r in records if r.startswith("v=STSv1;") or r == "v=STSv1"]
    if len(candidates) != 1:
        return None
    fields: dict[str, str] = {}
    for part in candidates[0].split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals or not _FIELD_NAME.fullmatch(name) or not value.isprintable():
            return None
        fields.setdefault(name, value)
    record_id = fields.get("id", "")
    return record_id if _RECORD_ID.fullmatch(record_id) else None


def parse_policy(body: bytes | str) -> StsPolicy:
    """The policy a policy host served; PolicyError for anything RFC 8461 §3.2 refuses."""
    if isinstance(body, bytes):
        if len(body) > MAX_POLICY_BYTES:
            raise PolicyError(f"policy larger than {MAX_POLICY_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PolicyError(f"policy is not UTF-8 text (byte {error.start})") from None
    else:
        text = body
    values: dict[str, str] = {}
    patterns: list[str] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip(" \t")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise PolicyError(f"line {number}: not a 'key: value' line")
        if name == "mx":
            patterns.append(_mx_pattern(value, number))
        else:
            # A key given twice: the first counts (the RFC does not say; this is stable).
            values.setdefault(name, value)
    if values.get("version") != "STSv1":
        raise PolicyError(f"version must be STSv1, not {values.get('version', '(missing)')!r}")
    try:
        mode = PolicyMode(values.get("mode", ""))
    except ValueError:
        mode_text = values.get("mode", "(missing)")[:20]
        raise PolicyError(f"mode must be enforce, testing or none: {mode_text!r}") from None
    age_text = values.get("max_age", "")
    if not age_text.isascii() or not age_text.isdigit() or len(age_text) > 10:
        raise PolicyError(f"max_age must be a number of seconds: {age_text[:20]!r}")
    max_age = int(age_text)
    if max_age > MAX_AGE_LIMIT:
        raise PolicyError(f"max_age {max_age} is over {MAX_AGE_LIMIT}")
    if mode is not PolicyMode.NONE and not patterns:
        raise PolicyError(f"a {mode} policy needs at least one mx line")
    return StsPolicy(mode=mode, max_age=max_age, mx=tuple(dict.fromkeys(patterns)))


def _mx_pattern(value: str, number: int) -> str:
    pattern = value.lower().rstrip(".")
    labels = pattern.removeprefix("*.").split(".")
    if (
        not pattern.isascii()
        or len(pattern) > 253
        or len(labels) < 1
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        raise PolicyError(f"line {number}: not an MX host pattern: {value[:80]!r}")
    return pattern


def mx_matches(pattern: str, host: str) -> bool:
    """``host`` against one policy pattern (RFC 8461 §4.1), case-insensitive."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        first, dot, rest = host.partition(".")
        return bool(first) and bool(dot) and rest == pattern[2:]
    return host == pattern
