"""The CPAS pages in a real headless Chromium: log in with the keyboard, the residents in the
order that matters, a lockout said plainly; with and without JavaScript. Screenshots go to
screenshots/ for a person to look at."""

import pytest

from saldo.app import create_app
from tests.browser import screenshot, serving
from tests.integration.test_portal import PASSWORD, populate, portal_settings

pytestmark = pytest.mark.slow


async def log_in(page, url: str, password: str = PASSWORD) -> None:
    await page.goto(url + "/cpas/")
    await page.get_by_label("Nom d'utilisateur").fill("a.dupont")
    await page.get_by_label("Mot de passe").fill(password)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


@pytest.mark.parametrize("java_script_enabled", [True, False])
async def test_a_social_worker_sees_who_needs_help_first(page, database_url, clock,
                                                         java_script_enabled):
    await populate(database_url, clock)
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        await log_in(page, url)
        assert await page.get_by_role("heading", level=1).inner_text() == "Résidents sous mandat"
        names = await page.locator("tbody th[scope=row]").all_inner_texts()
        assert names == ["Marc Coupé", "Anna Laag", "Zoé Normale"]
        assert "Andere Gemeinde" not in await page.content()
        if java_script_enabled:
            await screenshot(page, "residents")
        await page.get_by_label("Rechercher (nom ou chiffres de l'EAN)").fill("anna")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator("tbody th[scope=row]").all_inner_texts() == ["Anna Laag"]
        async with page.expect_navigation():
            await page.get_by_role("button", name="Se déconnecter").click()
        assert await page.get_by_role("heading", level=1).inner_text() == "Connexion"


async def test_five_wrong_passwords_lock_the_account(page, database_url, clock):
    await populate(database_url, clock)
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        for _ in range(5):
            await log_in(page, url, "wrong password!")
            assert "incorrect" in await page.get_by_role("alert").inner_text()
        await log_in(page, url)  # the right password, too late: locked for fifteen minutes
        assert "bloqué pendant quinze minutes" in await page.get_by_role("alert").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "Connexion"


async def test_a_form_posted_from_elsewhere_is_refused(page, database_url, clock):
    await populate(database_url, clock)
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        await log_in(page, url)
        # The browser's own cookies, but no token from one of our forms: a forged request.
        answer = await page.request.post(url + "/cpas/logout", form={"csrf": "forged"})
        assert answer.status == 403
        await page.goto(url + "/cpas/")
        assert await page.get_by_role("heading", level=1).inner_text() == "Résidents sous mandat"


async def test_open_a_resident_record_a_top_up_and_see_it(page, database_url, clock):
    await populate(database_url, clock)
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        await log_in(page, url)
        async with page.expect_navigation():
            await page.get_by_role("link", name="Marc Coupé").click()
        assert await page.get_by_role("heading", level=1).inner_text() == "Marc Coupé"
        assert "-18,00" in await page.locator("dd.balance").inner_text()
        await screenshot(page, "resident")
        await page.get_by_label("Montant en euros (de 5,00 à 250,00)").fill("25,00")
        await page.get_by_label("Référence du reçu").fill("RECU-0042")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "Nouveau solde" in await page.get_by_role("status").inner_text()
        assert "7,00" in await page.locator("dd.balance").inner_text()
        # Another CPAS's resident, by URL: as if it did not exist.
        answer = await page.goto(url + "/cpas/residents/" + "0000000000040")
        assert answer.status == 404
