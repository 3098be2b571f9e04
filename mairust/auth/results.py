"""Authentication results as value objects, worded as RFC 8601 says.

Stored with the message as JSON (``to_json``/``from_json``), stamped into one
``Authentication-Results:`` header, and shown on the API as the message's ``auth``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class SpfWord(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    NEUTRAL = "neutral"
    NONE = "none"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class DkimWord(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NEUTRAL = "neutral"
    NONE = "none"
    POLICY = "policy"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class DmarcWord(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NONE = "none"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class ArcWord(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: SpfWord
    identity: str  # "mailfrom" or "helo" (RFC 8601 smtp.mailfrom / smtp.helo)
    domain: str  # the domain checked (of the reverse-path, or the HELO name)
    client_ip: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: DkimWord
    domain: str = ""  # d=
    selector: str = ""  # s=
    algorithm: str = ""  # a=
    signature_prefix: str = ""  # first characters of b=, to tell signatures apart (RFC 6008)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DmarcResult:
    result: DmarcWord
    from_domain: str = ""
    policy: str = ""  # the p= (or sp=) that applied: none | quarantine | reject
    spf_aligned: bool = False
    dkim_aligned: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ArcResult:
    result: ArcWord
    chain_length: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AuthResults:
    """Everything checked for one message."""

    spf: SpfResult | None = None
    helo: SpfResult | None = None
    dkim: tuple[DkimResult, ...] = field(default=())
    dmarc: DmarcResult | None = None
    arc: ArcResult | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary_words(self) -> dict[str, str]:
        """One word per method, for search filters (``dmarc:fail``) and listings.

        DKIM passes when any signature passed; otherwise the first signature's word.
        """
        words: dict[str, str] = {}
        if self.spf is not None:
            words["spf"] = self.spf.result.value
        if self.dkim:
            passed = any(d.result is DkimWord.PASS for d in self.dkim)
            words["dkim"] = DkimWord.PASS.value if passed else self.dkim[0].result.value
        if self.dmarc is not None:
            words["dmarc"] = self.dmarc.result.value
        if self.arc is not None:
            words["arc"] = self.arc.result.value
        return words

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthResults:
        def spf(value: dict[str, Any] | None) -> SpfResult | None:
            return (
                None
                if value is None
                else SpfResult(**{**value, "result": SpfWord(value["result"])})
            )

        dmarc = data.get("dmarc")
        arc = data.get("arc")
        return cls(
            spf=spf(data.get("spf")),
            helo=spf(data.get("helo")),
            dkim=tuple(
                DkimResult(**{**d, "result": DkimWord(d["result"])}) for d in data.get("dkim", ())
            ),
            dmarc=None
            if dmarc is None
            else DmarcResult(**{**dmarc, "result": DmarcWord(dmarc["result"])}),
            arc=None if arc is None else ArcResult(**{**arc, "result": ArcWord(arc["result"])}),
        )
