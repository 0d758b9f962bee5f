"""Headless Chromium (Debian's package) driven by Playwright, for the pages the app serves."""

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def another_origin(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """A second web server on loopback, answering with `handler`: another origin than the app's, for
    pages that call the app across origins. Yields its origin."""
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_port}"
    finally:
        site.shutdown()
        site.server_close()
        thread.join(10)


@contextmanager
def chromium() -> Iterator["Browser"]:
    """Debian's Chromium, headless, with the flags this machine needs; launching it takes seconds, so
    a module may share one between its tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(
    errors: list[str], *, width: int = 900, height: int = 1000, browser: "Browser | None" = None
) -> Iterator["Page"]:
    """A fresh page, in `browser` or in a Chromium of its own; every console error and uncaught
    exception of it is appended to `errors`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    with ExitStack() as stack:
        if browser is None:
            browser = stack.enter_context(chromium())
        context = browser.new_context(viewport={"width": width, "height": height})
        stack.callback(context.close)
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
