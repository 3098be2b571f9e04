"""The DLP plugin through the SDK's test helper, on whole messages as the platform builds
its request (Subject and full body): Luhn-valid card numbers (with spaces or dashes), mod-97
valid IBANs and configured patterns refuse the message with a reply that names what was
found and never repeats it; numbers that fail their check digit pass; ``action`` turns the
refusal into a hold or tags."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from mairust.plugin_sdk import HookResponse, VerdictKind, run_plugin
from plugins.dlp.detectors import card_numbers, ibans, luhn_ok
from plugins.dlp.plugin import plugin

HERE = Path(__file__).resolve().parents[2] / "plugins" / "dlp"
# Published test numbers (Visa, Mastercard, Amex), the Luhn check passing.
VISA = "4111 1111 1111 1111"
MASTERCARD = "5555-5555-5555-4444"
AMEX = "378282246310005"
BAD_LUHN = "4111 1111 1111 1112"
# The IBAN examples of the ISO 13616 registry (valid check digits).
IBAN_DE = "DE89 3704 0044 0532 0130 00"
IBAN_GB = "GB82WEST12345698765432"


def mail(body: str, subject: str = "payment details") -> bytes:
    return (
        f"From: ann@example.test\r\nTo: bob@remote.example\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def run(message: bytes, **config: Any) -> HookResponse:
    return run_plugin(plugin, "pre_send", message, manifest=HERE, config=config)


def test_a_valid_card_number_is_refused_without_being_repeated() -> None:
    for number in (VISA, MASTERCARD, AMEX):
        answer = run(mail(f"Here is my card: {number}, expiry 12/29."))
        assert answer.verdict is VerdictKind.REJECT, number
        assert answer.reply == (
            "550 5.7.1 Message refused by the data loss policy: it carries a payment card number"
        )
        digits = number.replace(" ", "").replace("-", "")
        assert digits[-4:] not in (answer.reply or "") + answer.reason


def test_numbers_failing_their_check_digit_pass() -> None:
    assert run(mail(f"Card {BAD_LUHN}, order 1234567890123456.")).verdict is VerdictKind.CONTINUE
    assert run(mail("IBAN DE89 3704 0044 0532 0130 01")).verdict is VerdictKind.CONTINUE
    # Digits inside a longer run, and phone numbers, are not cards.
    assert run(mail("tracking 0041111111111111111 tel +1 555 0100")).verdict is VerdictKind.CONTINUE


def test_ibans_and_several_findings_are_counted_and_named() -> None:
    body = f"Pay to {IBAN_DE} EUR or {IBAN_GB}; my cards: {VISA} and {MASTERCARD}."
    answer = run(mail(body))
    assert answer.verdict is VerdictKind.REJECT
    assert answer.reply is not None
    assert answer.reply.endswith("it carries 2 payment card numbers, 2 IBANs")
    assert "3704" not in answer.reply and "WEST" not in answer.reply
    only_iban = run(mail(f"IBAN: {IBAN_DE}"), detect=["iban"], reply="554 5.7.0 No banking data")
    assert only_iban.reply == "554 5.7.0 No banking data: it carries an IBAN"
    assert run(mail(f"card {VISA}"), detect=["iban"]).verdict is VerdictKind.CONTINUE


def test_the_subject_and_encoded_parts_are_read() -> None:
    assert run(mail("see subject", subject=f"card {VISA}")).verdict is VerdictKind.REJECT
    encoded = base64.b64encode(f"Meine Karte: {VISA}".encode()).decode()
    multipart = (
        "From: ann@example.test\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
    ).encode()
    assert run(multipart).verdict is VerdictKind.REJECT


def test_configured_patterns_are_named_by_their_name() -> None:
    patterns = [{"name": "project codename", "pattern": r"(?i)\bbluebird\b"}]
    answer = run(mail("The Bluebird launch is on Monday."), patterns=patterns)
    assert answer.verdict is VerdictKind.REJECT
    assert answer.reply is not None and answer.reply.endswith("text matching 'project codename'")
    assert run(mail("Nothing secret."), patterns=patterns).verdict is VerdictKind.CONTINUE


def test_action_quarantine_holds_and_action_tag_tags() -> None:
    held = run(mail(f"card {VISA}"), action="quarantine")
    assert (held.verdict, held.tags) == (VerdictKind.QUARANTINE, ["dlp:card"])
    patterns = [{"name": "Secret Word", "pattern": "swordfish"}]
    tagged = run(mail(f"{IBAN_GB} swordfish"), action="tag", patterns=patterns)
    assert (tagged.verdict, tagged.tags) == (VerdictKind.CONTINUE, ["dlp:iban", "dlp:secret-word"])


def test_the_detectors() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert card_numbers(f"{VISA} / {AMEX} / {BAD_LUHN}") == 2
    assert ibans(f"{IBAN_DE}\n{IBAN_GB}\nFR76 3000 6000 0112 3456 7890 189") == 3
    assert ibans("XX00 0000 0000 0000 00 and DE00 1234") == 0
