"""Debian's Chromium driven by Playwright, for the browser tests and the page benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling home, which this machine refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).parents[1] / "var" / "screenshots"


def launch(playwright):
    """A headless Chromium; a missing browser is a failure, never a reason to skip."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def with_session(browser, base_url: str, session: str, csp: bool = False, **context_options):
    """A page whose browser context is logged in with the given Django session. The tests'
    own probes (`wait_for_function` with a string) are evaluated in the page, which the site's
    Content-Security-Policy forbids: it is bypassed unless `csp` is asked for, and then every
    violation is recorded in `page.errors`."""
    context = browser.new_context(bypass_csp=not csp, **context_options)
    context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            page.errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot under var/screenshots/, to be looked at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
