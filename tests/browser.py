"""A real headless Chromium for browser tests: Debian's `chromium`, driven with playwright.

Playwright never downloads a browser here: it starts /usr/bin/chromium, which
`bash .ci/browser.sh` installs with apt. Nothing in this module needs pytest:

    async with serving(app) as url, chromium() as browser, new_page(browser) as page:
        await page.goto(url)
        await screenshot(page, "residents")   # screenshots/residents.png
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from saldo.access_log import RouteAccessLogger

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "screenshots"  # git-ignored; the README names it
CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "install Debian's chromium: bash .ci/browser.sh"

# Chromium's sandbox needs user namespaces, which a container running as root does not give:
# playwright then passes --no-sandbox (chromium_sandbox=False, also its default). Playwright
# itself adds --headless and --disable-dev-shm-usage (a container's /dev/shm is often 64 MB).
LAUNCH: dict[str, Any] = {"executable_path": CHROMIUM, "headless": True, "chromium_sandbox": False}
# Every page the same size and language, so that screenshots compare from one run to the next.
VIEWPORT = {"width": 1280, "height": 900}
LOCALE = "fr-BE"


class ChromiumMissing(RuntimeError):
    """The browser tests fail, never skip, where /usr/bin/chromium is not installed."""


@asynccontextmanager
async def chromium(**options: Any) -> AsyncIterator[Browser]:
    """A headless Debian Chromium, closed (with playwright's driver) on leaving."""
    if not os.access(CHROMIUM, os.X_OK):
        raise ChromiumMissing(f"no {CHROMIUM}: {INSTALL}")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**{**LAUNCH, **options})
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def new_page(browser: Browser, *, java_script_enabled: bool = True,
                   **options: Any) -> AsyncIterator[Page]:
    """A page in a new context (its own cookies), 1280×900 and in Belgian French by default."""
    context = await browser.new_context(
        **{"viewport": VIEWPORT, "locale": LOCALE, "java_script_enabled": java_script_enabled,
           **options})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    """Saves the whole page (not only the viewport) as screenshots/<name>.png, for a person."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"a screenshot name is a file name without .png: {name!r}")
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path


class _LoggedTestServer(TestServer):
    async def start_server(self, loop=None, **kwargs: Any) -> None:
        kwargs.setdefault("access_log_class", RouteAccessLogger)
        await super().start_server(loop=loop, **kwargs)


def logged_server(app: web.Application) -> TestServer:
    """aiohttp's TestServer, logging as `saldo serve` does (the whole-run log check reads it)."""
    return _LoggedTestServer(app)


@asynccontextmanager
async def serving(app: web.Application, **runner_options: Any) -> AsyncIterator[str]:
    """Serves app in this process on 127.0.0.1, on a port the system picks; yields its base URL
    ("http://127.0.0.1:PORT", no trailing slash). Stops it, and runs its cleanup, on leaving."""
    # As `saldo serve` logs: routes, never the paths typed (they hold EANs and names).
    runner_options.setdefault("access_log_class", RouteAccessLogger)
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    try:
        # Port 0: the kernel picks a free port when binding, so no other test can take it between
        # a free_port() and the bind.
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
