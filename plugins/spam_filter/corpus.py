"""The corpus the default model is trained on, built here, deterministically, from a seed.

No licensed spam/ham corpus of real mail can be had where the project builds (only the
package registries are reachable, and none ships one: SpamAssassin's Debian package carries
two sample messages, no corpus), so the project writes its own: messages put together from
the phrase pools below, written for this project and under its licence (Apache-2.0, see
SOURCES.md). Ham is office mail, family mail, mailing-list talk, receipts and newsletters
people asked for; spam is pills, prizes, advance-fee fraud, phishing, investment, loans,
dating, SEO and fake invoices. The two share filler sentences, words like "free", "offer"
and "account", links and amounts, so the classes overlap the way real mail does; header
traits (a Reply-To elsewhere, a shouted subject, no Message-ID) lean one way, never decide.

The same seed gives the same messages, byte for byte, on every machine (``random.Random``
is specified to be reproducible across platforms for a given seed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SEED = 20261130
SPAM, HAM = "spam", "ham"

_FIRST = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
]
_LAST = [
    "Berg",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haas",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
]
_HAM_DOMAINS = [
    "example.com", "example.org", "example.net", "corp.example", "uni.example",
    "lists.example.org", "shop.example", "bank.example",
]  # fmt: skip
_SPAM_DOMAINS = [
    "best-deal.example", "win-now.example", "pharma-direct.example", "secure-verify.example",
    "crypto-gain.example", "mail.example.com", "example.net", "promo-center.example",
]  # fmt: skip
_MAILERS = ["Thunderbird 115", "Outlook 16.0", "Apple Mail", "Roundcube 1.6", "mutt 2.2"]
_SPAM_MAILERS = ["BulkMailer Pro 7", "MassSender 2", "Outlook 16.0", "PHPMailer 5.2"]

_FILLER = [
    "Let me know if you have any questions.",
    "Thanks in advance for your time.",
    "Please see the details below.",
    "Best regards and have a nice day.",
    "You can reply to this email at any time.",
    "This offer is only available this week.",
    "Your account details are below.",
    "Click the link to learn more.",
    "We appreciate your business.",
    "Hope you are doing well.",
]

# category -> (subjects, sentences); {n} a name, {a} an amount, {u} a link, {d} a day.
_HAM: dict[str, tuple[list[str], list[str]]] = {
    "meeting": (
        ["Meeting on {d}", "Agenda for {d}", "Re: project sync", "Moving our call to {d}"],
        [
            "Can we move the project sync to {d} afternoon?",
            "I have attached the agenda and the notes from last week.",
            "{n} will present the quarterly figures and the roadmap.",
            "The meeting room on the third floor is booked from two to three.",
            "Please review the draft before the meeting.",
            "We still need a decision on the budget for the migration.",
            "The slides are in the shared folder under planning.",
        ],
    ),
    "project": (
        ["Status update", "Re: release checklist", "Code review for the parser", "Build broken?"],
        [
            "The release branch is frozen; only bug fixes from now on.",
            "I merged the fix for the timeout and the tests pass again.",
            "{n} found a regression in the import step, see the ticket.",
            "The deployment to staging went fine, production is planned for {d}.",
            "Could you review my pull request when you have a moment?",
            "The benchmark shows the new index is twice as fast.",
            "We should document the configuration options before the release.",
        ],
    ),
    "family": (
        ["Dinner on {d}?", "Photos from the weekend", "Re: birthday plans", "Train times"],
        [
            "Are you coming for dinner on {d}? Mum is making lasagne.",
            "Here are the photos from the lake, the kids loved it.",
            "{n} asked whether we could bring the bikes next time.",
            "My train arrives at six, could you pick me up at the station?",
            "Happy birthday! We miss you and hope to see you soon.",
            "The garden looks great after all the rain this week.",
        ],
    ),
    "list": (
        ["[dev] Re: memory leak in 2.3", "[users] question about config", "[dev] RFC: new API"],
        [
            "I can reproduce the leak with the attached script on Linux.",
            "Have you tried setting the cache size in the config file?",
            "The patch looks good to me, but it needs a test.",
            "This was discussed on the list last year, see the archive at {u}.",
            "Which version are you running? The option was renamed in 2.0.",
            "I would rather keep the old behaviour behind a flag.",
        ],
    ),
    "receipt": (
        ["Your order has shipped", "Receipt for your payment", "Your invoice for October"],
        [
            "Thank you for your order of {a}; it ships within two days.",
            "Your payment of {a} was received on {d}.",
            "You can track the parcel at {u}.",
            "The invoice is attached as a PDF for your records.",
            "Your subscription renews next month; you can cancel in your account settings.",
        ],
    ),
    "newsletter": (
        ["Our monthly newsletter", "What's new this month", "Events in your city"],
        [
            "This month we look at three new libraries for data analysis.",
            "Our spring sale starts on {d}, with free shipping for members.",
            "Read the full article on our blog at {u}.",
            "You receive this newsletter because you subscribed on our website.",
            "To unsubscribe, use the link in your account settings.",
        ],
    ),
}
_SPAM: dict[str, tuple[list[str], list[str]]] = {
    "pharma": (
        ["Cheap meds online", "V1agra 80% OFF", "Best pills, no prescription", "Men's health"],
        [
            "Buy cheap viagra and cialis online without prescription.",
            "Lowest prices on pills, discreet shipping worldwide.",
            "Order now and get 80% off all medications at {u}.",
            "Enlarge your performance with our natural formula.",
            "Satisfaction guaranteed or your money back, no questions asked.",
        ],
    ),
    "prize": (
        ["You have WON!", "Congratulations winner", "Claim your prize now", "Lucky draw result"],
        [
            "Congratulations! Your email was selected in our international lottery.",
            "You have won {a} in cash; claim your prize before {d}.",
            "To receive your winnings send your full name, address and phone number.",
            "This is not a joke, you are our lucky winner of the month.",
            "Click here to claim your free gift card: {u}",
        ],
    ),
    "fraud": (
        ["Urgent business proposal", "Confidential: transfer of funds", "Dear friend"],
        [
            "I am a lawyer representing the estate of a late client with {a} in a bank.",
            "I need a trustworthy foreign partner to transfer the funds.",
            "You will receive thirty percent of the total sum for your assistance.",
            "Kindly reply with your bank account details to proceed urgently.",
            "This transaction is risk free and strictly confidential.",
        ],
    ),
    "phishing": (
        ["Account suspended", "Verify your account", "Unusual sign-in activity", "Action required"],
        [
            "Your account has been suspended due to unusual activity.",
            "Verify your identity within 24 hours or your account will be closed.",
            "Log in at {u} to confirm your password and billing information.",
            "Failure to verify will result in permanent loss of access.",
            "Our security team detected a login from an unknown device.",
        ],
    ),
    "invest": (
        ["Double your bitcoin", "This stock will explode", "Passive income secret"],
        [
            "Make {a} per week from home with our crypto trading robot.",
            "Invest now before the price goes to the moon, guaranteed returns.",
            "Join thousands of members earning passive income at {u}.",
            "Limited spots available, act now and double your money.",
            "No experience needed, the system trades for you.",
        ],
    ),
    "loan": (
        ["Pre-approved loan", "Bad credit? No problem", "Cash today"],
        [
            "You are pre-approved for a loan of {a} with no credit check.",
            "Get cash in your account today, bad credit is no problem.",
            "Lowest interest rate guaranteed, apply in two minutes at {u}.",
            "Consolidate your debt and save money every month.",
        ],
    ),
    "dating": (
        ["Hot singles near you", "She wants to meet you", "Lonely tonight?"],
        [
            "Beautiful singles in your area are waiting to meet you.",
            "{n} sent you a private message, see her photos at {u}.",
            "Sign up free and start chatting tonight.",
            "No strings attached, discreet and anonymous.",
        ],
    ),
    "seo": (
        ["Rank #1 on Google", "Website traffic offer", "Re: your website"],
        [
            "We can put your website on the first page of Google in 30 days.",
            "Our SEO experts will boost your traffic and sales.",
            "Buy 10000 backlinks for only {a}, special offer this week.",
            "Reply with yes and we will send you a free audit.",
        ],
    ),
    "invoice": (
        ["Invoice overdue", "Payment reminder #{a}", "Your invoice is attached"],
        [
            "Your invoice is overdue, please pay immediately to avoid penalties.",
            "Open the attached document and enable macros to view the invoice.",
            "Wire the outstanding amount of {a} to the account below.",
            "Download your invoice at {u} before it expires.",
        ],
    ),
}
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True, slots=True)
class Sample:
    label: str  # SPAM or HAM
    category: str
    message: bytes  # the whole RFC 5322 message, CRLF line endings


def build_corpus(count_per_class: int = 1500, seed: int = SEED) -> list[Sample]:
    """``count_per_class`` spam and as many ham messages, shuffled; the same for one seed."""
    rng = random.Random(seed)
    samples = [_message(rng, HAM, index) for index in range(count_per_class)]
    samples += [_message(rng, SPAM, index) for index in range(count_per_class)]
    rng.shuffle(samples)
    return samples


def split(samples: list[Sample], held_out: float = 0.2) -> tuple[list[Sample], list[Sample]]:
    """The training part and the held-out part (the last ``held_out`` of the list)."""
    cut = int(len(samples) * (1 - held_out))
    return samples[:cut], samples[cut:]


def _message(rng: random.Random, label: str, index: int) -> Sample:
    pools = _SPAM if label == SPAM else _HAM
    category = rng.choice(sorted(pools))
    subjects, sentences = pools[category]
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    spam = label == SPAM
    domain = rng.choice(_SPAM_DOMAINS if spam else _HAM_DOMAINS)
    subject = _fill(rng, rng.choice(subjects))
    if rng.random() < (0.3 if spam else 0.03):
        subject = subject.upper() + rng.choice(["!!!", "!", ""])
    lines = [_fill(rng, s) for s in rng.sample(sentences, k=min(len(sentences), rng.randint(2, 4)))]
    # Shared sentences, and now and then a sentence of the other class: the overlap.
    lines += rng.sample(_FILLER, k=rng.randint(1, 3))
    for _ in range(2):
        if rng.random() < 0.3:
            other = _HAM if spam else _SPAM
            lines.append(_fill(rng, rng.choice(other[rng.choice(sorted(other))][1])))
    rng.shuffle(lines)
    greeting = rng.choice(["Hi", "Hello", "Dear", "Dear friend,", "Hey"])
    body = f"{greeting} {rng.choice(_FIRST)},\r\n\r\n" + "\r\n".join(lines)
    body += f"\r\n\r\n{name}\r\n"
    local = name.split()[0].lower() if not spam or rng.random() < 0.5 else _junk(rng)
    sent = f"{rng.choice(_DAYS)[:3]}, {1 + index % 28} Nov 2026 10:{index % 60:02d}:00 +0000"
    headers = [
        ("From", f"{name} <{local}@{domain}>"),
        ("To", f"{rng.choice(_FIRST).lower()}@example.test"),
        ("Subject", subject),
        ("Date", sent),
    ]
    if not spam or rng.random() < 0.7:
        headers.append(("Message-ID", f"<{label}.{index}.{rng.randrange(10**9)}@{domain}>"))
    if (spam and rng.random() < 0.5) or (not spam and rng.random() < 0.05):
        headers.append(("Reply-To", f"{_junk(rng)}@{rng.choice(_SPAM_DOMAINS)}"))
    if rng.random() < 0.6:
        headers.append(("X-Mailer", rng.choice(_SPAM_MAILERS if spam else _MAILERS)))
    headers.append(("Content-Type", "text/plain; charset=utf-8"))
    text = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n" + body
    return Sample(label, category, text.encode("utf-8"))


def _fill(rng: random.Random, template: str) -> str:
    amount = rng.choice(["$", "EUR ", "USD ", "£"]) + f"{rng.randint(5, 95000):,}"
    link = f"https://{rng.choice(_HAM_DOMAINS + _SPAM_DOMAINS)}/{_junk(rng)}"
    return template.format(
        n=rng.choice(_FIRST), a=amount, u=link, d=rng.choice(_DAYS), **{}
    ).replace("#$", "#")


def _junk(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
