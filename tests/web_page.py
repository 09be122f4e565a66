"""The service's web page (serve/web.py) in headless Debian chromium, driven by Playwright:
opening it, and waiting for the state it shows (`document.body.dataset.state`). The browser
tests (tests/test_web_browser.py) and bench/js_latency.py use them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def open_page(browser: Browser, url: str) -> Iterator[Page]:
    """A page at `url` whose console errors (and uncaught exceptions) are collected in
    `page.errors`."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    try:
        yield page
    finally:
        page.close()


def wait_for_state(page: Page, *states: str, timeout_s: float = 60) -> str:
    """The page's state once it is one of `states` (TimeoutError after `timeout_s`)."""
    page.wait_for_function(f"{list(states)}.includes(document.body.dataset.state)",
                           timeout=timeout_s * 1000)
    return page.evaluate("document.body.dataset.state")
