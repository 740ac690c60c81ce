"""Fixtures for browser tests in a real headless Chromium (see tests/browser.py).

    async def test_residents(page):
        async with serving(make_app()) as url:
            await page.goto(url + "/residents")

`browser` is a new Chromium per test: launching it takes about 0.3 s. `page` is a new context
and page in it, 1280×900 and fr-BE. Without JavaScript:

    @pytest.mark.parametrize("java_script_enabled", [False])
    async def test_without_javascript(page): ...
"""

import pytest
from playwright.async_api import Browser

from tests.browser import chromium, new_page


@pytest.fixture
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture
def java_script_enabled() -> bool:
    """Whether `page` runs scripts; a test parametrizes it to False to see the page without."""
    return True


@pytest.fixture
async def page(browser: Browser, java_script_enabled: bool):
    async with new_page(browser, java_script_enabled=java_script_enabled) as opened:
        yield opened
