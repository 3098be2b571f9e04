"""Headless Chromium for the web UI's tests: Debian's browser driven by Playwright, axe-core
in every page, and a keyboard walk that checks each control is reached and shows focus.

The browser is the OS's (``/usr/bin/chromium``, from `.ci/system-packages.sh`): Playwright's
own browser download cannot reach its host here. The flags keep Chromium off the network
(no background connections, no component updates) and run it as root (``--no-sandbox``).
axe-core comes from the UI's own npm packages (``web/node_modules/axe-core``); it is added
as an init script, which the page's Content-Security-Policy does not block, so the pages
are tested under the policy they are served with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("MAIRUST_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE_SCRIPT = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
# What fails a page: axe's two worst impacts (minor and moderate ones are reported only).
BLOCKING_IMPACTS = ("serious", "critical")
# The main menu each role is shown, in order (web/src/shell/nav.ts): the scenarios that
# sign in as each role check it against these.
ADMIN_MENU = [
    "Dashboard",
    "Messages",
    "Domains",
    "Users",
    "Tokens",
    "Hooks",
    "Plugins",
    "Queue",
    "Quarantine",
    "Trace",
    "Account",
]
TENANT_ADMIN_MENU = [
    "Messages",
    "Domains",
    "Users",
    "Tokens",
    "Queue",
    "Quarantine",
    "Trace",
    "Account",
]
USER_MENU = ["Messages", "Quarantine", "Account"]
# Where screenshots go (a CI artefact folder; build/ is ignored by git).
SCREENSHOTS = Path(os.environ.get("MAIRUST_TEST_SCREENSHOTS", REPO / "build" / "web-screenshots"))


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: run `make system-packages`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    """A fresh profile (no storage shared with other tests) with axe-core in every page."""
    if not AXE_SCRIPT.is_file():
        raise RuntimeError(f"no {AXE_SCRIPT}: run `make web` (npm ci in web/)")
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.add_init_script(path=str(AXE_SCRIPT))
    context.set_default_timeout(15_000)
    return context


@contextmanager
def watched_page(
    browser: Browser, base_url: str, expected: Callable[[ConsoleMessage], bool] = lambda m: False
) -> Iterator[Page]:
    """A page in a fresh context (``new_context``) whose console is watched: on the way out,
    a script error or a console error the scenario did not provoke on purpose (``expected``
    says which it did) fails the test even when the page looked right (a CSP refusal, say)."""
    context = new_context(browser, base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and not expected(m) else None,
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"browser console errors: {errors}"


@dataclass(frozen=True)
class AxeViolation:
    rule: str
    impact: str
    help: str
    targets: list[str]

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.help} at {', '.join(self.targets[:5])}"


def axe_violations(page: Page) -> list[AxeViolation]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and
    AA rules and axe's best practices). The sandboxed message frame runs no script, so
    axe does not enter frames: a message's own HTML is the sender's, not the UI's."""
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const results = await axe.run(document, {
                iframes: false,
                resultTypes: ['violations'],
            });
            return results.violations.map(v => ({
                rule: v.id, impact: v.impact || 'unknown', help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')),
            }));
        }"""
    )
    return [AxeViolation(**v) for v in found if v["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {where}:\n" + "\n".join(map(str, violations))


# Gives each element a stable id (a WeakMap, no change to the DOM) and a readable name.
_SETUP_JS = """() => {
    const ids = new WeakMap();
    let next = 0;
    window.__walkId = el => {
        if (!ids.has(el)) ids.set(el, next++);
        return ids.get(el);
    };
    window.__describe = el => {
        if (el.type === 'radio') return 'radio group ' + el.name;
        const label = el.getAttribute('aria-label') || el.id || el.name
            || (el.textContent || '').trim().slice(0, 40);
        return el.tagName.toLowerCase() + ' ' + JSON.stringify(label);
    };
}"""
# The controls a keyboard must reach: one per radio group (arrows move inside a group).
_CONTROLS_JS = """() => {
    const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    const groups = new Set();
    return [...document.querySelectorAll(
        'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'
    )].filter(el => !el.disabled && visible(el) && el.tabIndex >= 0).filter(el => {
        if (el.type !== 'radio') return true;
        if (groups.has(el.name)) return false;
        groups.add(el.name);
        return true;
    }).map(el => ({
        id: window.__walkId(el),
        name: window.__describe(el),
        radio: el.type === 'radio' ? el.name : null,
    }));
}"""
_FOCUSED_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const ring = style.boxShadow && style.boxShadow !== 'none';
    return {
        id: window.__walkId(el),
        name: window.__describe(el),
        radio: el.type === 'radio' ? el.name : null,
        tag: el.tagName.toLowerCase(),
        visibleFocus: outline || ring,
    };
}"""


@dataclass(frozen=True)
class KeyboardWalk:
    reached: list[str]
    missed: list[str]
    without_focus_ring: list[str]


def keyboard_walk(page: Page, max_presses: int = 150) -> KeyboardWalk:
    """Tab until the focus comes round to an element it already left: which controls were
    reached, which were not, and which showed no focus indicator when reached. (Wherever
    the walk starts, one round covers the page: past the last control the focus wraps.)"""
    page.evaluate(_SETUP_JS)
    controls: list[dict[str, Any]] = page.evaluate(_CONTROLS_JS)
    reached: dict[int, dict[str, Any]] = {}
    no_ring: list[str] = []
    last: int | None = None
    outside = 0
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED_JS)
        if focused is None:
            outside += 1  # the browser's own UI, or the document itself, between rounds
            if outside > 3:
                break
            continue
        if focused["id"] == last:
            continue  # a stop inside one control (the fields of a date input)
        if focused["id"] in reached:
            break
        reached[focused["id"]] = focused
        last = focused["id"]
        # An iframe's focus is drawn by the frame's own document, not its element.
        if not focused["visibleFocus"] and focused["tag"] != "iframe":
            no_ring.append(focused["name"])
    groups = {f["radio"] for f in reached.values() if f["radio"]}
    missed = [
        c["name"]
        for c in controls
        if c["id"] not in reached and not (c["radio"] and c["radio"] in groups)
    ]
    return KeyboardWalk([f["name"] for f in reached.values()], missed, no_ring)


def assert_keyboard_reaches_everything(page: Page, where: str) -> KeyboardWalk:
    walk = keyboard_walk(page)
    assert walk.reached, f"{where}: Tab reached nothing"
    assert not walk.missed, f"{where}: Tab never reached {walk.missed} (reached {walk.reached})"
    assert not walk.without_focus_ring, f"{where}: no visible focus on {walk.without_focus_ring}"
    return walk


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under SCREENSHOTS (kept as a test artefact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
