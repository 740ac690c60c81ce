"""The CPAS pages in a real headless Chromium: log in with the keyboard, the residents in the
order that matters, a lockout said plainly; with and without JavaScript. Screenshots go to
screenshots/ for a person to look at."""

import pytest
from playwright.async_api import expect

from ledger import AccountInput, Ledger, NonDisconnectionPeriod
from saldo.app import create_app
from tests.browser import screenshot, serving
from tests.conftest import make_ean
from tests.integration.test_ledger import ACTIVATED
from tests.integration.test_portal import (
    LEA,
    PASSWORD,
    populate,
    populate_evening,
    portal_settings,
)

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


PHONE = {"width": 390, "height": 844}  # a common phone's width, in CSS pixels
# What overflows sideways, and what does not show all its text, as the page lays it out.
OVERFLOW = """() => ({
    page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
    clipped: [...document.querySelectorAll("main *")]
        .filter(e => !e.closest("thead"))  // headings kept for screen readers, hidden on purpose
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5
                     || e.scrollWidth > e.clientWidth + 1
                        && getComputedStyle(e).overflowX !== "visible")
        .map(e => e.tagName + "." + e.className)})"""


async def test_the_residents_list_is_usable_on_a_390_pixel_wide_phone(page, database_url, clock):
    await populate_evening(database_url, clock)  # long states too: "Coupure annoncée pour le…"
    await page.set_viewport_size(PHONE)
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        await log_in(page, url)
        layout = await page.evaluate(OVERFLOW)
        assert layout["viewport"] == 390
        assert layout["page"] <= 390, "the page scrolls sideways"
        assert layout["clipped"] == []
        rows = page.locator("tbody tr")
        assert await rows.count() == 6
        for index in range(6):
            row = rows.nth(index)
            for cell in (row.locator("th[scope=row]"), row.locator("td.balance"),
                         row.locator("td.state")):
                await expect(cell).to_be_visible()
                box = await cell.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390
                assert box["y"] < (await rows.nth(index).bounding_box())["y"] + 400
        lea = page.locator("tbody tr", has=page.get_by_role("link", name="Léa Annoncée"))
        assert "Coupure annoncée pour le mercredi 25/11 à 08:00" in \
            await lea.locator("td.state").inner_text()
        assert "-19,00" in (await lea.locator("td.balance").inner_text()).replace("\u2212", "-")
        await screenshot(page, "residents-390")
        # And the resident's own page: no sideways scrolling either.
        await page.goto(f"{url}/cpas/residents/{LEA[5:]}")
        layout = await page.evaluate(OVERFLOW)
        assert layout["page"] <= 390 and layout["clipped"] == []
        await screenshot(page, "resident-390")


async def test_the_residents_list_is_paged_with_the_keyboard(page, database_url, clock):
    await populate(database_url, clock)
    ledger = await Ledger.open(database_url, clock=clock, ndp=NonDisconnectionPeriod())
    await ledger.import_accounts([AccountInput(make_ean(200 + n), "gas", "fr",
                                               name=f"Bewoner {n:02d}", cpas="CPAS-NAMUR",
                                               activated_at=ACTIVATED) for n in range(60)])
    await ledger.close()
    async with serving(create_app(portal_settings(database_url), clock=clock)) as url:
        await log_in(page, url)
        rows = page.locator("tbody th[scope=row]")
        assert await rows.count() == 50
        assert (await rows.all_inner_texts())[:2] == ["Marc Coupé", "Anna Laag"]
        counts = page.get_by_role("list", name="Résidents par état")
        assert "61" in await counts.inner_text()
        await page.get_by_role("link", name="Page suivante").focus()
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await rows.count() == 13
        assert "Page 2 sur 2 (63 résidents)" in await page.get_by_role(
            "navigation", name="Pages de la liste").inner_text()
        await screenshot(page, "residents-page-2")
        async with page.expect_navigation():
            await page.get_by_role("link", name="Page précédente").click()
        assert await rows.count() == 50
