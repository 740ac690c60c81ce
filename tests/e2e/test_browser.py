"""The browser harness itself: a page served in-process, opened in Debian's Chromium, a form
filled in and sent with the keyboard alone, with and without JavaScript."""

from html import escape

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.browser import SCREENSHOTS, screenshot, serving

pytestmark = pytest.mark.slow

FORM = """<!doctype html>
<html lang="fr-BE">
<head><meta charset="utf-8"><title>Essai</title></head>
<body>
  <h1>Demande de rappel</h1>
  <p id="script">JavaScript désactivé</p>
  <script>document.getElementById("script").textContent = "JavaScript activé";</script>
  <form method="post" action="/rappel">
    <label for="name">Nom</label> <input id="name" name="name" required>
    <button type="submit">Envoyer</button>
  </form>
</body>
</html>
"""

THANKS = """<!doctype html>
<html lang="fr-BE">
<head><meta charset="utf-8"><title>Merci</title></head>
<body><h1>Merci, {name}</h1></body>
</html>
"""


def callback_app() -> web.Application:
    async def form(request: web.Request) -> web.Response:
        return web.Response(text=FORM, content_type="text/html")

    async def thanks(request: web.Request) -> web.Response:
        name = (await request.post())["name"]
        return web.Response(text=THANKS.format(name=escape(str(name))), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", form)
    app.router.add_post("/rappel", thanks)
    return app


@pytest.mark.parametrize("java_script_enabled", [True, False], ids=["javascript", "no-javascript"])
async def test_a_form_is_sent_with_the_keyboard_alone(page: Page, java_script_enabled: bool):
    async with serving(callback_app()) as url:
        await page.goto(url + "/")
        await expect(page.get_by_role("heading")).to_have_text("Demande de rappel")
        switched = "activé" if java_script_enabled else "désactivé"
        await expect(page.locator("#script")).to_have_text(f"JavaScript {switched}")

        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Nom")).to_be_focused()
        await page.keyboard.type("Élise Dupont")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Envoyer")).to_be_focused()
        name = "browser-smoke" if java_script_enabled else "browser-smoke-no-javascript"
        shot = await screenshot(page, name)
        await page.keyboard.press("Enter")

        await expect(page).to_have_url(url + "/rappel")
        await expect(page.get_by_role("heading")).to_have_text("Merci, Élise Dupont")
    assert shot == SCREENSHOTS / f"{name}.png"
    assert shot.read_bytes().startswith(b"\x89PNG")
